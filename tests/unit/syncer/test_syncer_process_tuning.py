"""The syncer's process tuning: glibc's mmap threshold pinned when (and only when) the setting
says so. Observed through the allocator itself, in a child process (the tuning lasts for the
life of a process)."""

from __future__ import annotations

import json
import subprocess
import sys

# glibc raises its mmap threshold to the size of a mapped block when it is freed: after a 16 MiB
# block comes and goes, an 8 MiB block lands on the heap. Pinned (mallopt), it stays mapped. (8
# MiB: smaller blocks may fit in the free top of the heap, where no threshold applies.) A mapped
# chunk carries the IS_MMAPPED bit (2) in the size word just before the pointer.
PROBE = """
import ctypes, gc, json, sys
from entrasync_syncer import main
from entrasync_syncer.settings import Settings

calls = []
real = main.pin_mmap_threshold
main.pin_mmap_threshold = lambda: calls.append(real()) or calls[-1]
main.tune_process(Settings(pin_mmap_threshold=sys.argv[1] == "on"))

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(16 << 20))
block = libc.malloc(8 << 20)
mapped = bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2)
libc.free(block)
print(json.dumps({"calls": calls, "mapped": mapped, "frozen": gc.get_freeze_count()}))
"""


def probe(setting: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, setting], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_on_the_mmap_threshold_stays_pinned_after_a_big_block_is_freed() -> None:
    seen = probe("on")
    assert seen["calls"] == [True]  # mallopt returned 1: the C library took it
    assert seen["mapped"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000


def test_off_mallopt_is_not_called_and_glibc_keeps_its_sliding_threshold() -> None:
    seen = probe("off")
    assert seen["calls"] == []
    assert seen["mapped"] is False  # the threshold rose past 1 MiB: the allocator untouched
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000
