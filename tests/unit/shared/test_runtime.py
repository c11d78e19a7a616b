"""Process tuning after startup: the startup heap frozen (and nothing else: a library leaves the
C allocator alone; the syncer's mmap pin is tested in tests/unit/syncer)."""

from __future__ import annotations

import subprocess
import sys

from support.polling import eventually_blocking


def test_settling_freezes_the_startup_heap_and_leaves_the_allocator_alone() -> None:
    # A child process: freezing lasts for the life of the process. mallopt is replaced by a
    # recorder before the call, so a library that still tuned glibc would be caught.
    code = (
        "import ctypes, gc\n"
        "calls = []\n"
        "class Libc:\n"
        "    def __getattr__(self, name):\n"
        "        return lambda *a: calls.append((name, a)) or 1\n"
        "ctypes.CDLL = lambda *a, **k: Libc()\n"
        "from entrasync_shared import runtime\n"
        "runtime.settle_after_startup()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert calls == [], calls\n"
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
    eventually_blocking(lambda: not _alive(child), "the orphaned child to end", 10)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
