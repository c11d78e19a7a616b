from __future__ import annotations

from pathlib import Path

import pytest
from entrasync_config.adapters.crypto import generate_key
from entrasync_config.domain import SecretBinding
from entrasync_config.main import build_app, secret_box
from entrasync_config.settings import ConfigSettings
from pydantic import ValidationError


@pytest.fixture(autouse=True)
def no_entrasync_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("ENTRASYNC_CONFIG_ENCRYPTION_KEY", "ENTRASYNC_CONFIG_ENCRYPTION_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)


OWNER = SecretBinding("p", 1, "secret")


def test_a_key_is_required() -> None:
    with pytest.raises(ValidationError, match="no encryption key: set"):
        ConfigSettings()


def test_two_key_sources_are_refused_without_quoting_the_key(tmp_path: Path) -> None:
    key = generate_key()
    (tmp_path / "keys").write_text(key)

    with pytest.raises(ValidationError, match="not both") as refused:
        ConfigSettings(encryption_key=key, encryption_key_file=tmp_path / "keys")

    assert key not in str(refused.value)


def test_an_unreadable_key_file_is_refused_by_name(tmp_path: Path) -> None:
    settings = ConfigSettings(encryption_key_file=tmp_path / "missing")

    with pytest.raises(ValueError, match="cannot read .*missing"):
        build_app(settings)


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("ENTRASYNC_CONFIG_ENCRYPTION_KEY", key)
    monkeypatch.setenv("ENTRASYNC_CONFIG_ENCRYPTION_KEY_FILE", "")

    settings = ConfigSettings()

    assert settings.encryption_key_file is None
    assert secret_box(settings).open(secret_box(settings).seal("s", OWNER), OWNER) == "s"


def test_keys_from_a_file_are_newest_first(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    (tmp_path / "keys").write_text(f"{new}\n{old}\n")
    only_new = secret_box(ConfigSettings(encryption_key=new))

    box = secret_box(ConfigSettings(encryption_key_file=tmp_path / "keys"))

    assert box.key_id == only_new.key_id
    assert box.open(secret_box(ConfigSettings(encryption_key=old)).seal("s", OWNER), OWNER) == "s"
