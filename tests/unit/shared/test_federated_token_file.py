"""Where a workload's projected token is read from, and how a missing one is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from entrasync_shared.federation import (
    FederatedTokenUnavailable,
    assertion_source,
    read_assertion,
    token_file,
)


def test_the_profiles_own_file_wins_over_the_environment() -> None:
    environ = {"AZURE_FEDERATED_TOKEN_FILE": "/from/env"}

    assert token_file("/from/profile", environ) == "/from/profile"
    assert token_file(None, environ) == "/from/env"


def test_no_file_anywhere_says_how_aks_provides_one() -> None:
    with pytest.raises(FederatedTokenUnavailable, match=r"azure\.workload\.identity/use"):
        token_file(None, {})


def test_an_empty_token_file_is_refused_without_quoting_anything(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n")

    with pytest.raises(FederatedTokenUnavailable, match="is empty"):
        read_assertion(str(empty))


def test_the_source_reads_the_file_at_each_call(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("one")
    read = assertion_source(str(path), {})
    first = read()
    path.write_text("two")

    assert (first, read()) == ("one", "two")
