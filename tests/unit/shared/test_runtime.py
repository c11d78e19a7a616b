"""Process tuning after startup: the startup heap frozen, glibc's mmap threshold pinned."""

from __future__ import annotations

import subprocess
import sys


def test_settling_freezes_the_startup_heap_and_pins_the_mmap_threshold() -> None:
    # A child process: freezing and mallopt last for the life of the process.
    code = (
        "import gc, platform\n"
        "from entrasync_shared import runtime\n"
        "calls = []\n"
        "real = runtime._pin_mmap_threshold\n"
        "runtime._pin_mmap_threshold = lambda: (calls.append(1), real())\n"
        "runtime.settle_after_startup()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert calls == [1]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
