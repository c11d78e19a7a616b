"""`entrasync-infra`: the production commands live in shared/ (the admin image runs `declare`),
the local-infrastructure ones (`check`, `up`) in devtools/, reached through the same command."""

from __future__ import annotations

import json
import sys

import pytest
from entrasync_devtools.infra import find_mongod, find_nats_server
from entrasync_shared import admin


def test_check_is_answered_by_the_devtools(capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.main(["check"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found == {"nats-server": str(find_nats_server()), "mongod": str(find_mongod())}


@pytest.mark.parametrize("command", ["check", "up"])
def test_without_devtools_the_local_commands_say_what_to_install(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, admin.DEVTOOLS_CLI, None)  # as in a service image
    assert admin.main([command]) == 2
    assert "install entrasync-devtools" in capsys.readouterr().err


def test_the_production_commands_need_no_devtools(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, admin.DEVTOOLS_CLI, None)
    assert admin.main(["nats-config"]) == 0
    assert '"jetstream"' in capsys.readouterr().out
