"""shared/ is a production library without a database: neither it nor the services that have no
database (syncer, scheduler, console) bring PyMongo into their images or their processes."""

from __future__ import annotations

import importlib.metadata
import pkgutil
import subprocess
import sys

import entrasync_shared
import pytest
from packaging.requirements import Requirement

DRIVER = ("pymongo", "bson", "gridfs", "motor")


def test_shared_does_not_declare_a_database_driver() -> None:
    requires = importlib.metadata.requires("entrasync-shared") or []
    assert not [r for r in requires if Requirement(r).name.lower() in DRIVER]


@pytest.mark.parametrize(
    "modules",
    [
        [f"entrasync_shared.{m.name}" for m in pkgutil.iter_modules(entrasync_shared.__path__)],
        ["entrasync_syncer.main"],
        ["entrasync_scheduler.main"],
    ],
    ids=["every-shared-module", "syncer", "scheduler"],
)
def test_importing_loads_no_database_driver(modules: list[str]) -> None:
    # A fresh interpreter: this test process has long imported PyMongo for other tests.
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {DRIVER!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"
