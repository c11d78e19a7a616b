"""The `entrasync-config` command as an operator runs it: refusal at start, `genkey`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from entrasync_config.adapters.crypto import generate_key, parse_key

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
