"""Process tuning shared by the services that handle whole tenants (syncer, history)."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import platform

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter number (malloc.h)."""
MMAP_THRESHOLD = 512 * 1024
"""Above every socket read buffer (asyncio receives into 256 KiB blocks): at 128 KiB each of
those became an mmap, an mremap and a munmap (4,102 in one full run), and the run took 11% more
CPU than at 512 KiB (medians of six in-process runs, 3.19 s against 2.84 s)."""


def settle_after_startup() -> None:
    """Call once the service has started, before it takes work.

    * Everything allocated while starting (modules, pydantic schemas, the app) goes to the
      collector's permanent generation, so full collections stop re-walking it. A sync run
      allocates hundreds of thousands of short-lived dicts; with the startup heap frozen a
      170k-object run took about a fifth less CPU (`bench/simulator/bench_simulator.py`
      conditions, 2026-11-27).
    * glibc's mmap threshold is pinned at 512 KiB. By default it rises to the size of the
      largest block freed, so the ~1 MB response bodies and batches of big groups' pages end
      up on the heap, which then only grows: a 100k-user groups round peaked 10 MB lower with
      the threshold pinned (same conditions). The price is page faults on fresh mappings, a
      few percent of the syncer's CPU; its memory must not grow with the tenant, so it pays.
      Other C libraries are left alone.
    """
    gc.collect()
    gc.freeze()
    _pin_mmap_threshold()


def _pin_mmap_threshold() -> None:
    if platform.libc_ver()[0] != "glibc":
        return
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; keeping the C library's default")
