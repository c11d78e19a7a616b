"""JSON log lines (`ENTRASYNC_LOG_FORMAT=json`): one object per line, with the service and the
context the code set, untrusted text kept on its line."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys

import pytest
from entrasync_shared.logs import JsonLines, current_context, log_context


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("entrasync.test", logging.WARNING, __file__, 1, message, args, None)


def test_a_record_is_one_json_object_with_its_context() -> None:
    with log_context(tenant_id="t1", run_id="r1"):
        line = JsonLines().format(_record("refused %s", "a\nERROR forged"))
    assert "\n" not in line
    document = json.loads(line)
    assert document["message"] == "refused a\nERROR forged"
    assert (document["tenant_id"], document["run_id"]) == ("t1", "r1")
    assert document["level"] == "WARNING" and document["logger"] == "entrasync.test"
    assert "trace_id" not in document


def test_the_context_follows_tasks_and_ends_with_its_block() -> None:
    async def inner() -> dict[str, str]:
        return current_context()

    async def main() -> dict[str, str]:
        with log_context(tenant_id="t1"), log_context(run_id="r2"):
            return await asyncio.create_task(inner())

    assert asyncio.run(main()) == {"tenant_id": "t1", "run_id": "r2"}
    assert current_context() == {}
    with pytest.raises(ValueError, match="unknown log context"):
        with log_context(password="x"):
            pass


def test_a_service_process_logs_json_lines_when_asked() -> None:
    code = (
        "import logging; from entrasync_shared.logs import configure_logging, log_context\n"
        "configure_logging(service='entrasync-demo')\n"
        "with log_context(tenant_id='t9'):\n"
        "    logging.getLogger('entrasync.x').error('boom\\nline')\n"
        "try:\n    1/0\nexcept ZeroDivisionError:\n    logging.getLogger('x').exception('failed')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"ENTRASYNC_LOG_FORMAT": "json", "PATH": ""},
        check=True,
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    first, second = map(json.loads, lines)
    assert first["service"] == "entrasync-demo" and first["tenant_id"] == "t9"
    assert "ZeroDivisionError" in second["exc"] and "tenant_id" not in second
