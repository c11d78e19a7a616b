"""Process tuning after startup: the startup heap frozen, glibc's mmap threshold pinned."""

from __future__ import annotations

import subprocess
import sys
import time


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


def test_a_child_started_with_die_with_parent_ends_when_its_parent_is_killed() -> None:
    code = (
        "import subprocess, sys, time\n"
        "from entrasync_devtools.infra import die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " preexec_fn=die_with_parent)\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()  # no cleanup code runs: only the kernel can take the child along
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
