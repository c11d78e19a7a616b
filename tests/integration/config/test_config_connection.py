"""Test Connection against the Graph/Entra simulator: real HTTPS, real MSAL, real config service.

Each case registers its own app in the simulated tenant (with the permissions or credential
state it needs) and a credential profile for it, then asks config to test the connection.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from config_helpers import api, result
from entrasync_config.adapters.crypto import generate_key
from entrasync_config.main import build_app
from entrasync_config.settings import ConfigSettings
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.subjects import (
    DEFAULT_OBJECT_TYPES,
    OBJECT_TYPES,
    READ_PERMISSIONS,
    Names,
)
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo.asynchronous.database import AsyncDatabase
from support.federation import WorkloadIssuer

CLOUD = "simlab"
ALL = ("User.Read.All", "GroupMember.Read.All", "Device.Read.All")


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    state = tmp_path_factory.mktemp("sim")
    with SimulatorProcess(users=5, groups=2, devices=2, seed=11, state_dir=state) as running:
        yield running


@pytest.fixture(scope="module")
def control(sim: SimulatorProcess) -> Iterator[SimulatorControl]:
    with SimulatorControl(sim.control_url, sim.ca_file) as client:
        yield client


@pytest.fixture
def home(sim: SimulatorProcess) -> dict[str, Any]:
    tenant: dict[str, Any] = sim.tenants[0]
    return tenant


@pytest.fixture
async def config(
    infra: LocalInfra, sim: SimulatorProcess, names: Names, db_name: str
) -> AsyncIterator[None]:
    settings = ConfigSettings(
        nats_url=infra.nats_url,
        mongodb_uri=infra.mongodb_uri,
        prefix=names.prefix,
        db=db_name,
        encryption_key=generate_key(),
        clouds={
            CLOUD: {
                "authority_host": sim.authority_host,
                "graph_url": sim.graph_url,
                "ca_file": str(Path(sim.ca_file)),
            },
            "simlab-no-ca": {"authority_host": sim.authority_host, "graph_url": sim.graph_url},
        },
    )
    async with build_app(settings):
        yield


async def profile_for(
    nc: NatsClient, names: Names, app: dict[str, Any], certificate: bool = False, **extra: Any
) -> str:
    body: dict[str, Any] = {"name": f"app-{uuid.uuid4().hex[:6]}", "client_id": app["client_id"]}
    if certificate:
        body |= {
            "private_key_pem": app["private_key_pem"],
            "certificate_pem": app["certificate_pem"],
        }
    else:
        body["client_secret"] = app["client_secret"]
    profile = await result(nc, names, "profile.create", {**body, **extra})
    return str(profile["id"])


async def try_unsaved(
    nc: NatsClient, names: Names, tenant: str, profile_id: str, **extra: Any
) -> dict[str, Any]:
    body = {"tenant": tenant, "cloud": CLOUD, "profile_id": profile_id, **extra}
    outcome: dict[str, Any] = await result(nc, names, "connection.test", body)
    return outcome


def statuses(outcome: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(s["name"], s["object_type"], s["status"]) for s in outcome["steps"]]


pytestmark = pytest.mark.usefixtures("config")


async def test_a_saved_tenant_connects_and_reports_its_guid_and_name(
    nc: NatsClient, names: Names, home: dict[str, Any]
) -> None:
    profile_id = await profile_for(nc, names, home)
    tenant = await result(
        nc,
        names,
        "tenant.create",
        {"tenant": home["domain"], "cloud": CLOUD, "profile_id": profile_id},
    )

    outcome = await result(nc, names, "tenant.test", {"tenant_id": tenant["id"]})

    assert outcome["ok"] is True and outcome["error_code"] is None
    assert outcome["tenant_guid"] == home["tenant_id"]
    assert outcome["display_name"] == home["display_name"]
    assert statuses(outcome) == [
        ("discovery", None, "ok"),
        ("token", None, "ok"),
        ("organization", None, "ok"),
        ("read", "user", "ok"),
        ("read", "group", "ok"),
        ("read", "device", "ok"),
    ]
    assert all(s["duration_ms"] >= 0 for s in outcome["steps"])
    assert home["client_secret"] not in str(outcome)


async def test_unsaved_input_is_tested_before_saving_and_nothing_is_stored(
    nc: NatsClient, names: Names, home: dict[str, Any]
) -> None:
    profile_id = await profile_for(nc, names, home)

    outcome = await try_unsaved(nc, names, home["tenant_id"], profile_id, object_types=["device"])

    assert outcome["ok"] and outcome["tenant_guid"] == home["tenant_id"]
    assert [s["object_type"] for s in outcome["steps"] if s["name"] == "read"] == ["device"]
    assert await result(nc, names, "tenant.list", {}) == []


async def test_an_unknown_tenant_fails_at_discovery(
    nc: NatsClient, names: Names, home: dict[str, Any]
) -> None:
    profile_id = await profile_for(nc, names, home)

    outcome = await try_unsaved(nc, names, "nosuchtenant.onmicrosoft.com", profile_id)

    assert outcome["ok"] is False and outcome["error_code"] == "AADSTS90002"
    assert [s["status"] for s in outcome["steps"]] == ["failed"] + ["skipped"] * 5
    assert "was not found in the simlab cloud" in outcome["message"]


async def test_an_unknown_client_id_fails_at_the_token(
    nc: NatsClient, names: Names, home: dict[str, Any]
) -> None:
    stranger = {**home, "client_id": str(uuid.uuid4())}
    profile_id = await profile_for(nc, names, stranger)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["error_code"] == "AADSTS700016"
    assert statuses(outcome)[:2] == [("discovery", None, "ok"), ("token", None, "failed")]
    assert stranger["client_id"] in outcome["message"] and "was not found" in outcome["message"]


async def test_a_wrong_secret_says_so(nc: NatsClient, names: Names, home: dict[str, Any]) -> None:
    wrong = "Wrong-Secret~" + uuid.uuid4().hex
    profile_id = await profile_for(nc, names, {**home, "client_secret": wrong})

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["ok"] is False and outcome["error_code"] == "AADSTS7000215"
    assert "client secret is wrong" in outcome["message"]
    assert wrong not in str(outcome)


async def test_an_expired_secret_says_so(
    nc: NatsClient, names: Names, home: dict[str, Any], control: SimulatorControl
) -> None:
    app = control.add_app(home["tenant_id"], permissions=ALL, certificate=False)
    control.expire_secret(home["tenant_id"], app["client_id"])
    profile_id = await profile_for(nc, names, app)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["ok"] is False and outcome["error_code"] == "AADSTS7000222"
    assert "client secret has expired" in outcome["message"]


@pytest.mark.parametrize(
    ("missing", "object_type"),
    [
        ("User.Read.All", "user"),
        ("GroupMember.Read.All", "group"),
        ("Device.Read.All", "device"),
        ("RoleManagement.Read.Directory", "directoryRole"),
    ],
)
async def test_a_missing_permission_is_named_for_its_object_type(
    nc: NatsClient,
    names: Names,
    home: dict[str, Any],
    control: SimulatorControl,
    missing: str,
    object_type: str,
) -> None:
    granted = [p for p in ALL if p != missing]
    types = list(dict.fromkeys((*DEFAULT_OBJECT_TYPES, object_type)))
    app = control.add_app(home["tenant_id"], permissions=granted, certificate=False)
    profile_id = await profile_for(nc, names, app)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id, object_types=types)

    assert outcome["ok"] is False and outcome["error_code"] == "Authorization_RequestDenied"
    assert missing in outcome["message"]
    reads = {s["object_type"]: s["status"] for s in outcome["steps"] if s["name"] == "read"}
    assert reads == {t: "failed" if t == object_type else "ok" for t in types}
    # Without Directory.Read.All the organization is unreadable: a warning, not a failure.
    organization = outcome["steps"][2]
    assert organization["status"] == "warning" and outcome["display_name"] is None


async def test_every_type_reads_with_its_least_privileged_permission_alone(
    nc: NatsClient, names: Names, home: dict[str, Any], control: SimulatorControl
) -> None:
    least = sorted({READ_PERMISSIONS[t][0] for t in OBJECT_TYPES})
    app = control.add_app(home["tenant_id"], permissions=least, certificate=False)
    profile_id = await profile_for(nc, names, app)

    outcome = await try_unsaved(
        nc, names, home["domain"], profile_id, object_types=list(OBJECT_TYPES)
    )

    reads = [(s["object_type"], s["status"]) for s in outcome["steps"] if s["name"] == "read"]
    assert reads == [(t, "ok") for t in OBJECT_TYPES], outcome
    assert outcome["ok"] is True


async def test_a_certificate_credential_connects(
    nc: NatsClient, names: Names, home: dict[str, Any], control: SimulatorControl
) -> None:
    app = control.add_app(home["tenant_id"], secret=False, certificate=True)
    profile_id = await profile_for(nc, names, app, certificate=True)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["ok"] is True, outcome
    assert outcome["display_name"] == home["display_name"]
    assert app["private_key_pem"].splitlines()[1] not in str(outcome)


async def test_an_unregistered_certificate_is_refused(
    nc: NatsClient, names: Names, home: dict[str, Any], control: SimulatorControl
) -> None:
    app = control.add_app(home["tenant_id"], secret=False, certificate=True)
    other = control.add_app(home["tenant_id"], secret=False, certificate=True)
    profile_id = await profile_for(
        nc,
        names,
        {
            **app,
            "private_key_pem": other["private_key_pem"],
            "certificate_pem": other["certificate_pem"],
        },
        certificate=True,
    )

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["ok"] is False and outcome["steps"][1]["status"] == "failed"
    assert outcome["error_code"].startswith("AADSTS")


async def test_a_slow_graph_is_cut_off_at_the_timeout(
    nc: NatsClient, names: Names, home: dict[str, Any], control: SimulatorControl
) -> None:
    profile_id = await profile_for(nc, names, home)
    fault = control.inject_fault("users", latency=5.0, tenant_id=home["tenant_id"])
    try:
        started = time.monotonic()
        outcome = await try_unsaved(nc, names, home["domain"], profile_id, timeout_seconds=2)
        elapsed = time.monotonic() - started
    finally:
        control.remove_fault(fault)

    assert outcome["ok"] is False and outcome["error_code"] == "timeout"
    assert statuses(outcome)[3:] == [
        ("read", "user", "failed"),
        ("read", "group", "skipped"),
        ("read", "device", "skipped"),
    ]
    assert elapsed < 4.0 and "within 2 s" in outcome["message"]


async def test_an_unreachable_identity_platform_is_reported_not_hung(
    nc: NatsClient, names: Names, home: dict[str, Any], control: SimulatorControl
) -> None:
    profile_id = await profile_for(nc, names, home)
    fault = control.inject_fault("token", reset=True, tenant_id=home["tenant_id"])
    try:
        reply = await api(
            nc,
            names,
            "connection.test",
            {
                "tenant": home["domain"],
                "cloud": CLOUD,
                "profile_id": profile_id,
                "timeout_seconds": 5,
            },
        )
    finally:
        control.remove_fault(fault)

    outcome = reply["result"]
    assert outcome["ok"] is False and outcome["steps"][1]["status"] == "failed"
    assert outcome["error_code"] == "network_error"
    assert "Could not connect to 127.0.0.1" in outcome["message"]


async def test_an_untrusted_certificate_is_reported_as_such(
    nc: NatsClient, names: Names, home: dict[str, Any]
) -> None:
    profile_id = await profile_for(nc, names, home)
    body = {"tenant": home["domain"], "cloud": "simlab-no-ca", "profile_id": profile_id}

    outcome = await result(nc, names, "connection.test", body)

    assert outcome["ok"] is False and outcome["error_code"] == "tls_error"
    assert outcome["steps"][0]["status"] == "failed"
    assert "is not trusted" in outcome["message"]


async def test_one_directory_is_one_tenant_by_whichever_name_it_is_added(
    nc: NatsClient, names: Names, home: dict[str, Any], config_db: AsyncDatabase[Any]
) -> None:
    profile_id = await profile_for(nc, names, home)
    body = {"tenant": home["domain"], "cloud": CLOUD, "profile_id": profile_id}
    first = await result(nc, names, "tenant.create", body)

    refusals = [
        await api(nc, names, "tenant.create", {**body, "tenant": other})
        for other in (home["domains"][1], home["tenant_id"].upper())
    ]
    elsewhere = await api(nc, names, "tenant.create", {**body, "cloud": "simlab-no-ca"})

    for refused in refusals:
        assert refused["ok"] is False, refused
        assert (refused["error"]["code"], refused["error"]["field"]) == ("conflict", "tenant")
        message = refused["error"]["message"]
        assert home["tenant_id"] in message and first["id"] in message
        assert f"({home['domain']}, cloud {CLOUD}" in message
    assert elsewhere["ok"], elsewhere  # another cloud is another directory
    assert await config_db.tenants.count_documents({"cloud": CLOUD}) == 1


async def test_testing_a_second_name_of_a_tenant_says_saving_would_be_refused(
    nc: NatsClient, names: Names, home: dict[str, Any]
) -> None:
    profile_id = await profile_for(nc, names, home)
    body = {"tenant": home["domain"], "cloud": CLOUD, "profile_id": profile_id}
    first = await result(nc, names, "tenant.create", body)

    outcome = await try_unsaved(nc, names, home["domains"][1], profile_id)

    assert (outcome["ok"], outcome["error_code"]) == (False, "conflict")
    assert outcome["tenant_guid"] == home["tenant_id"]
    assert first["id"] in outcome["message"] and "would be refused" in outcome["message"]


async def test_duplicates_from_before_the_check_are_reported_not_merged(
    nc: NatsClient, names: Names, home: dict[str, Any], config_db: AsyncDatabase[Any]
) -> None:
    profile_id = await profile_for(nc, names, home)
    body = {"tenant": home["domain"], "cloud": CLOUD, "profile_id": profile_id}
    first = await result(nc, names, "tenant.create", body)
    # A second tenant for the same directory, as an earlier release stored it (no GUID).
    old = await config_db.tenants.find_one({"_id": first["id"]})
    assert old is not None and old["entra_tenant_id"] == home["tenant_id"]
    del old["entra_tenant_id"]
    await config_db.tenants.insert_one(
        {**old, "_id": "older-duplicate", "tenant": home["domains"][1], "name": "Old copy"}
    )
    before = await result(nc, names, "health", {})

    outcome = await result(nc, names, "tenant.test", {"tenant_id": "older-duplicate"})
    after = await result(nc, names, "health", {})

    assert "warning" not in before["details"]
    assert outcome["ok"] is True and first["id"] in outcome["message"]
    assert after["ok"] is True and after["details"]["duplicate_directories"] == "1"
    assert (
        "'Old copy'" in after["details"]["warning"] and first["id"] in after["details"]["warning"]
    )
    tenants = await result(nc, names, "tenant.list", {})
    assert {t["id"] for t in tenants} == {first["id"], "older-duplicate"}


async def federated_profile(
    nc: NatsClient, names: Names, app: dict[str, Any], token_file: Path | None
) -> str:
    body: dict[str, Any] = {
        "name": f"wi-{uuid.uuid4().hex[:6]}",
        "client_id": app["client_id"],
        "kind": "federated",
    }
    if token_file is not None:
        body["federated_token_file"] = str(token_file)
    profile = await result(nc, names, "profile.create", body)
    return str(profile["id"])


@pytest.fixture
def workload(control: SimulatorControl) -> WorkloadIssuer:
    issuer = WorkloadIssuer()
    control.trust_issuer(issuer.issuer, issuer.jwks())
    return issuer


async def test_a_federated_credential_connects_with_the_projected_token(
    nc: NatsClient,
    names: Names,
    home: dict[str, Any],
    control: SimulatorControl,
    workload: WorkloadIssuer,
    tmp_path: Path,
) -> None:
    app = control.add_app(
        home["tenant_id"], secret=False, certificate=False, federated=[workload.credential()]
    )
    token_file = workload.write(tmp_path / "azure-identity-token")
    profile_id = await federated_profile(nc, names, app, token_file)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["ok"] is True, outcome
    assert token_file.read_text() not in str(outcome)


@pytest.mark.parametrize(
    ("trusted", "code", "words"),
    [
        ({"subject": "system:serviceaccount:other:other"}, "AADSTS700213", "token's subject"),
        ({"issuer": "https://elsewhere.test/"}, "AADSTS700211", "token's issuer"),
        ({"audiences": ["api://other"]}, "AADSTS700212", "token's audience"),
    ],
)
async def test_a_federated_credential_that_does_not_match_is_explained(
    nc: NatsClient,
    names: Names,
    home: dict[str, Any],
    control: SimulatorControl,
    workload: WorkloadIssuer,
    tmp_path: Path,
    trusted: dict[str, Any],
    code: str,
    words: str,
) -> None:
    app = control.add_app(
        home["tenant_id"],
        secret=False,
        certificate=False,
        federated=[workload.credential(**trusted)],
    )
    profile_id = await federated_profile(nc, names, app, workload.write(tmp_path / "token"))

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["ok"] is False and outcome["error_code"] == code, outcome
    assert words in outcome["message"] and app["client_id"] in outcome["message"]


async def test_an_expired_projected_token_is_explained(
    nc: NatsClient,
    names: Names,
    home: dict[str, Any],
    control: SimulatorControl,
    workload: WorkloadIssuer,
    tmp_path: Path,
) -> None:
    app = control.add_app(
        home["tenant_id"], secret=False, certificate=False, federated=[workload.credential()]
    )
    token_file = workload.write(tmp_path / "token", lifetime=-120)
    profile_id = await federated_profile(nc, names, app, token_file)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["error_code"] == "AADSTS700024"
    assert "refreshes the projected token file" in outcome["message"]


async def test_a_federated_profile_without_a_token_file_anywhere_is_explained(
    nc: NatsClient,
    names: Names,
    home: dict[str, Any],
    control: SimulatorControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    stranger = WorkloadIssuer()
    app = control.add_app(
        home["tenant_id"], secret=False, certificate=False, federated=[stranger.credential()]
    )
    profile_id = await federated_profile(nc, names, app, None)

    outcome = await try_unsaved(nc, names, home["domain"], profile_id)

    assert outcome["error_code"] == "federated_token_unavailable"
    assert 'azure.workload.identity/use: "true"' in outcome["message"]
