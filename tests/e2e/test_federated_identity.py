"""A tenant syncs with workload identity federation and no secret anywhere: the app registration
trusts the workload's token issuer, the credential profile names only the client id, and config
and the syncer read the projected token from the file `AZURE_FEDERATED_TOKEN_FILE` names (as
AKS's workload identity webhook sets it), fresh for every token request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import CLOUD, differences, live_inventory, run_now
from entrasync_devtools.infra import LocalInfra
from entrasync_devtools.stack import ServiceStack, simulated_stack_settings
from entrasync_shared.federation import TOKEN_FILE_VARIABLE
from entrasync_shared.messages import (
    ConnectionTest,
    ConnectionTestResult,
    CredentialProfile,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
    TenantTest,
)
from entrasync_shared.natsutil import call
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from pymongo import MongoClient
from support.federation import WorkloadIssuer

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def workload(control: SimulatorControl) -> WorkloadIssuer:
    """The cluster's OIDC issuer, whose keys Entra (the simulator) can read."""
    issuer = WorkloadIssuer(subject="system:serviceaccount:entrasync:entrasync")
    control.trust_issuer(issuer.issuer, issuer.jwks())
    return issuer


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory, workload: WorkloadIssuer) -> Path:
    """The projected service-account token, as the kubelet writes it into the pods."""
    return workload.write(tmp_path_factory.mktemp("projected") / "azure-identity-token")


@pytest.fixture(scope="module")
def stack(
    infra: LocalInfra,
    sim: SimulatorProcess,
    token_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceStack]:
    """The whole system; only config and the syncer get the token file (the labelled pods)."""
    workdir: Path = tmp_path_factory.mktemp("wistack")
    env, prefix = simulated_stack_settings(sim, workdir, "e2ewi", cloud=CLOUD)
    projected = {TOKEN_FILE_VARIABLE: str(token_file)}
    with ServiceStack(
        infra.nats_url,
        infra.mongodb_uri,
        workdir,
        env,
        prefix=prefix,
        service_env={"config": projected, "syncer": projected},
    ) as running:
        yield running


def logged(stack: ServiceStack, token_file: Path) -> list[str]:
    """The services whose log shows the token in `token_file`."""
    token = token_file.read_text()
    return [s for s in ("config", "syncer") if token in stack.log_file(s).read_text()]


async def test_a_tenant_syncs_with_a_federated_credential_and_no_secret_anywhere(
    infra: LocalInfra,
    sim: SimulatorProcess,
    control: SimulatorControl,
    workload: WorkloadIssuer,
    token_file: Path,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    home = sim.tenants[0]
    app = control.add_app(
        home["tenant_id"], secret=False, certificate=False, federated=[workload.credential()]
    )
    names = stack.names
    profile = await call(
        bus,
        names.api("config", "profile.create"),
        CredentialProfileCreate(
            name=f"workload {uuid.uuid4().hex[:6]}", client_id=app["client_id"], kind="federated"
        ),
        CredentialProfile,
    )
    create = TenantCreate(tenant=home["domain"], cloud=CLOUD, profile_id=profile.id)
    tenant = await call(bus, names.api("config", "tenant.create"), create, Tenant)

    tested = await call(
        bus,
        names.api("config", "tenant.test"),
        TenantTest(tenant_id=tenant.id),
        ConnectionTestResult,
    )
    run = await run_now(bus, stack, tenant.id)

    assert app["client_secret"] is None and app["private_key_pem"] is None
    assert (profile.kind, profile.federated_token_file) == ("federated", None)
    assert tested.ok, tested
    assert run["status"] == "Succeeded", run
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        inventory = live_inventory(mongo, stack.env["ENTRASYNC_HISTORY_DB"], tenant.id)
    finally:
        mongo.close()
    assert differences(inventory, control.state(home["tenant_id"])) == []
    assert not logged(stack, token_file)


async def test_a_rotated_token_file_is_read_again_and_a_stale_one_is_explained(
    control: SimulatorControl,
    workload: WorkloadIssuer,
    token_file: Path,
    stack: ServiceStack,
    bus: NatsClient,
) -> None:
    other = control.add_tenant(users=3, groups=1, devices=1)
    app = control.add_app(
        other["tenant_id"], secret=False, certificate=False, federated=[workload.credential()]
    )
    names = stack.names
    profile = await call(
        bus,
        names.api("config", "profile.create"),
        CredentialProfileCreate(name="rotated", client_id=app["client_id"], kind="federated"),
        CredentialProfile,
    )
    test = ConnectionTest(tenant=other["domain"], cloud=CLOUD, profile_id=profile.id)
    subject = names.api("config", "connection.test")

    try:
        workload.write(token_file, lifetime=-120)  # the kubelet stopped refreshing it
        stale = await call(bus, subject, test, ConnectionTestResult)
    finally:
        workload.write(token_file)  # and refreshes it again
    fresh = await call(bus, subject, test, ConnectionTestResult)

    assert stale.error_code == "AADSTS700024" and "projected token file" in stale.message
    assert fresh.ok, fresh
