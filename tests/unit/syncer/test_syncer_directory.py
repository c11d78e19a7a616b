"""A run learns its Entra directory's GUID from the token and hands it to history."""

import base64
import json
from dataclasses import dataclass, replace

import pytest
from entrasync_shared.messages import Credential, StartSync
from entrasync_syncer.domain import directory_guid, full_round_url
from entrasync_syncer.usecases.sync import sync_tenant
from syncer_fakes import GRAPH, Fakes, credential

DIRECTORY = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"


def jwt(claims: dict[str, object]) -> str:
    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_the_directory_guid_is_the_tokens_tid_claim_lower_cased() -> None:
    token = jwt({"tid": DIRECTORY.upper(), "aud": "https://graph.microsoft.com"})
    assert directory_guid("contoso.onmicrosoft.com", token) == DIRECTORY


def test_a_tenant_configured_by_guid_needs_no_readable_token() -> None:
    assert directory_guid(DIRECTORY.upper(), "opaque-token") == DIRECTORY


@pytest.mark.parametrize(
    "token",
    ["opaque", "a.b.c", "a.!!!.c", jwt({"aud": "x"}), jwt({"tid": "contoso"}), "a.WzFd.c"],
)
def test_without_a_guid_anywhere_the_directory_is_unknown(token: str) -> None:
    assert directory_guid("contoso.onmicrosoft.com", token) is None


@dataclass
class JwtTokens:
    async def token(self, credential: Credential, *, fresh: bool = False) -> str:
        return jwt({"tid": DIRECTORY})


async def test_every_batch_and_the_finish_of_a_run_carry_the_directory_guid() -> None:
    fakes = Fakes()
    fakes.credentials.known["t1"] = credential("t1")
    fakes.graph.serve(full_round_url(GRAPH, "user"), [{"id": "u1"}], next_url="p2")
    fakes.graph.serve("p2", [{"id": "u2"}])
    command = StartSync(run_id="r1", tenant_id="t1", mode="full", reason="first")

    fakes.options = replace(fakes.options, max_batch_bytes=1)  # a batch per page
    finished = await sync_tenant(
        command.model_copy(update={"object_types": ("user",)}),
        replace(fakes.deps(), tokens=JwtTokens()),
    )

    batches = fakes.publisher.batches()
    assert len(batches) == 2
    assert {b.entra_tenant_id for b in batches} == {DIRECTORY}
    assert finished.entra_tenant_id == DIRECTORY
