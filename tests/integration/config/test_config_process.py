"""The `entrasync-config` command as an operator runs it: refusal at start, `genkey`, its log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config_helpers import api
from entrasync_config.adapters.crypto import generate_key, parse_key
from entrasync_devtools.infra import LocalInfra, die_with_parent
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from support.polling import eventually

SCRIPT = str(Path(sys.executable).parent / "entrasync-config")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    return {**env, **extra}


def test_config_refuses_to_start_without_an_encryption_key() -> None:
    done = subprocess.run(
        [SCRIPT], env=clean_env(), capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2
    assert "no encryption key: set ENTRASYNC_CONFIG_ENCRYPTION_KEY or" in done.stderr
    assert "ENTRASYNC_CONFIG_ENCRYPTION_KEY_FILE" in done.stderr


def test_config_refuses_a_bad_key_without_quoting_it() -> None:
    env = clean_env(ENTRASYNC_CONFIG_ENCRYPTION_KEY=f"{generate_key()},c2hvcnQ=")

    done = subprocess.run([SCRIPT], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 2
    assert "key 2 of ENTRASYNC_CONFIG_ENCRYPTION_KEY" in done.stderr
    assert "entrasync-config genkey" in done.stderr and "c2hvcnQ=" not in done.stderr


def test_genkey_prints_a_usable_key() -> None:
    done = subprocess.run(
        [SCRIPT, "genkey"], env=clean_env(), capture_output=True, text=True, timeout=60
    )

    assert len(parse_key(done.stdout)) == 32


async def test_a_refused_field_name_cannot_forge_a_line_in_the_log(
    nc: NatsClient, names: Names, infra: LocalInfra, db_name: str, tmp_path: Path
) -> None:
    env = clean_env(
        ENTRASYNC_NATS_URL=infra.nats_url,
        ENTRASYNC_MONGODB_URI=infra.mongodb_uri,
        ENTRASYNC_PREFIX=names.prefix,
        ENTRASYNC_CONFIG_DB=db_name,
        ENTRASYNC_CONFIG_ENCRYPTION_KEY=generate_key(),
    )
    log = tmp_path / "config.log"
    proc = start(env, log)

    async def output() -> str:
        return read(log, proc)

    try:
        await eventually(output, accept=lambda text: "entrasync-config ready" in text, within=30)
        forged = {"tenant": "a.com", "profile_id": "p", "x\nERROR entrasync.config forged": 1}

        reply = await api(nc, names, "tenant.create", forged)
        text = await eventually(output, accept=lambda text: "refused" in text)
    finally:
        proc.kill()
        proc.wait()

    assert reply["error"]["code"] == "validation"
    [refused] = [line for line in text.splitlines() if "refused" in line]
    assert refused.endswith("refused: validation (x\\nERROR entrasync.config forged)")
    assert not any(line.startswith("ERROR") for line in text.splitlines())


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [SCRIPT], env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )


def read(log: Path, proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is not None:
        raise AssertionError(f"entrasync-config exited:\n{log.read_text(errors='replace')}")
    return log.read_text(errors="replace")
