"""An idle config service logs no error: its `sync.recorded` pull consumer timing out with
nothing to fetch is the normal case, not a failure.

Real: the `entrasync-config` script in a subprocess on nats-server and mongod. The pull timeout
is cut to 2 ms so that a few seconds hold thousands of idle pulls (the default is 1 s: the
ERROR traceback appeared about a minute after start).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from entrasync_config.adapters.crypto import generate_key
from entrasync_devtools.infra import LocalInfra, die_with_parent
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from support.polling import eventually

SCRIPT = str(Path(sys.executable).parent / "entrasync-config")
IDLE_SECONDS = 6.0


def config_env(infra: LocalInfra, names: Names, db_name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    return {
        **env,
        "ENTRASYNC_NATS_URL": infra.nats_url,
        "ENTRASYNC_MONGODB_URI": infra.mongodb_uri,
        "ENTRASYNC_PREFIX": names.prefix,
        "ENTRASYNC_CONFIG_DB": db_name,
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": generate_key(),
        "ENTRASYNC_CONFIG_FETCH_TIMEOUT_SECONDS": "0.002",
    }


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [SCRIPT], env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )


def errors_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if "ERROR" in line or "Traceback" in line]


async def test_an_idle_config_service_logs_no_error_when_its_pulls_time_out(
    nc: NatsClient, infra: LocalInfra, names: Names, db_name: str, tmp_path: Path
) -> None:
    log = tmp_path / "config.log"
    proc = start(config_env(infra, names, db_name), log)

    async def output() -> str:
        if proc.poll() is not None:
            raise AssertionError(f"entrasync-config exited:\n{log.read_text(errors='replace')}")
        return log.read_text(errors="replace")

    try:
        await eventually(output, accept=lambda text: "entrasync-config ready" in text, within=30)
        idle_until = time.monotonic() + IDLE_SECONDS
        text = await eventually(
            output,
            accept=lambda text: bool(errors_in(text)) or time.monotonic() > idle_until,
            within=IDLE_SECONDS + 5,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    assert errors_in(text) == []
