"""Process tuning shared by the services that handle whole tenants (syncer, history)."""

from __future__ import annotations

import gc


def settle_after_startup() -> None:
    """Call once the service has started, before it takes work.

    Everything allocated while starting (modules, pydantic schemas, the app) goes to the
    collector's permanent generation, so full collections stop re-walking it. A sync run
    allocates hundreds of thousands of short-lived dicts; with the startup heap frozen a
    170k-object run took about a fifth less CPU (`bench/simulator/bench_simulator.py`
    conditions, 2026-11-27).

    The C library's allocator is left alone here: the syncer pins glibc's mmap threshold itself
    (`ENTRASYNC_SYNCER_PIN_MMAP_THRESHOLD`), a library must not change it for a whole process.
    """
    gc.collect()
    gc.freeze()
