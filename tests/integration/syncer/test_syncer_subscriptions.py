"""The syncer's `ManageSubscriptions` work against the simulator's `/v1.0/subscriptions` (its
validation handshake answered by a loopback stand-in), with records in the real KV bucket."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from entrasync_shared.messages import Credential, ManageSubscriptions, SubscriptionRecord, new_id
from entrasync_shared.natsutil import ensure_subscription_bucket
from entrasync_shared.subjects import Names
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from support.handshake import HandshakeEndpoint
from support.polling import eventually
from syncer_helpers import simulator_credential

pytestmark = pytest.mark.usefixtures("syncer")


@pytest.fixture
async def endpoint() -> AsyncIterator[HandshakeEndpoint]:
    async with HandshakeEndpoint() as serving:
        yield serving


@pytest.fixture
def tenant_id(sim: SimulatorProcess, credentials: dict[str, Credential]) -> str:
    tenant_id = new_id()
    credentials[tenant_id] = simulator_credential(sim, tenant_id)
    return tenant_id


async def ask(nc: NatsClient, names: Names, tenant_id: str, url: str, **extra: Any) -> None:
    command = ManageSubscriptions(
        id=new_id(),
        tenant_id=tenant_id,
        action=extra.pop("action", "ensure"),
        notification_url=f"{url}/notifications",
        lifecycle_url=f"{url}/lifecycle",
        **extra,
    )
    await nc.jetstream().publish(
        names.manage_subscriptions(tenant_id),
        command.model_dump_json().encode(),
        headers={"Nats-Msg-Id": command.id},
    )


async def records(nc: NatsClient, names: Names, tenant_id: str) -> dict[str, SubscriptionRecord]:
    kv = await ensure_subscription_bucket(nc.jetstream(), names)
    found: dict[str, SubscriptionRecord] = {}
    try:
        keys = await kv.keys()
    except Exception:  # NoKeysError: an empty bucket
        return found
    for key in keys:
        entry = await kv.get(key)
        record = SubscriptionRecord.model_validate_json(entry.value or b"")
        if record.tenant_id == tenant_id:
            found[record.object_type] = record
    return found


def ours(control: SimulatorControl, sim: SimulatorProcess, url: str) -> list[dict[str, Any]]:
    listed = control.subscriptions(sim.tenants[0]["tenant_id"])
    return [s for s in listed if s["notificationUrl"] == f"{url}/notifications"]


async def test_ensure_creates_one_subscription_per_type_and_delete_removes_them(
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    endpoint: HandshakeEndpoint,
    tenant_id: str,
) -> None:
    await ask(nc, names, tenant_id, endpoint.url)
    made = await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: len(r) == 2)

    listed = {s["id"]: s for s in ours(control, sim, endpoint.url)}
    assert set(listed) == {r.subscription_id for r in made.values()}
    for record in made.values():
        graph = listed[record.subscription_id]
        assert graph["resource"] == record.resource == f"{record.object_type}s"
        assert graph["changeType"] == "updated,deleted"
        assert graph["lifecycleNotificationUrl"] == f"{endpoint.url}/lifecycle"
        digest = hashlib.sha256(graph["clientState"].encode()).hexdigest()
        assert (record.client_state_sha256, record.state) == (digest, "active")
        assert record.entra_tenant_id == sim.tenants[0]["tenant_id"]
        lasts = record.expires_at - datetime.now(UTC)
        assert timedelta(days=2, hours=23) < lasts <= timedelta(days=3)

    await ask(nc, names, tenant_id, endpoint.url)  # again: nothing to do
    await ask(nc, names, tenant_id, endpoint.url, action="delete")
    await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: not r)
    assert ours(control, sim, endpoint.url) == []


async def test_asked_ones_are_recreated_and_renewed_and_reauthorized(
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    endpoint: HandshakeEndpoint,
    tenant_id: str,
) -> None:
    await ask(nc, names, tenant_id, endpoint.url, object_types=("user",))
    first = (await eventually(lambda: records(nc, names, tenant_id)))["user"]

    await ask(nc, names, tenant_id, endpoint.url, recreate=(first.subscription_id,))
    await eventually(
        lambda: records(nc, names, tenant_id),
        accept=lambda r: len(r) == 2 and r["user"].subscription_id != first.subscription_id,
    )
    second = (await records(nc, names, tenant_id))["user"]
    await ask(
        nc,
        names,
        tenant_id,
        endpoint.url,
        reauthorize=(second.subscription_id,),
        lifetime_seconds=5 * 24 * 3600,
    )
    renewed = await eventually(
        lambda: records(nc, names, tenant_id),
        accept=lambda r: r["user"].expires_at > second.expires_at + timedelta(days=1),
    )

    assert renewed["user"].subscription_id == second.subscription_id
    assert {s["id"] for s in ours(control, sim, endpoint.url)} == {
        r.subscription_id for r in renewed.values()
    }
    await ask(nc, names, tenant_id, endpoint.url, action="delete")
    await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: not r)


async def test_a_failed_handshake_is_recorded_with_a_clear_error(
    nc: NatsClient, names: Names, tenant_id: str
) -> None:
    async with HandshakeEndpoint() as gone:
        url = gone.url  # nothing listens there any more
    await ask(nc, names, tenant_id, url, object_types=("user",))

    failed = (await eventually(lambda: records(nc, names, tenant_id)))["user"]

    assert failed.state == "failed" and failed.subscription_id.startswith("failed.")
    assert failed.error is not None and "could not validate the notification URL" in failed.error
    assert f"{url}/notifications" in failed.error


async def test_a_quota_reached_is_recorded_and_cleared_once_a_retry_succeeds(
    nc: NatsClient,
    names: Names,
    control: SimulatorControl,
    endpoint: HandshakeEndpoint,
    tenant_id: str,
) -> None:
    quotas = control.subscription_quotas()
    control.set_subscription_quotas(per_app_and_tenant=0)
    try:
        await ask(nc, names, tenant_id, endpoint.url, object_types=("group",))
        failed = (await eventually(lambda: records(nc, names, tenant_id)))["group"]
    finally:
        control.set_subscription_quotas(**quotas)
    assert failed.error is not None and "quota" in failed.error

    await ask(nc, names, tenant_id, endpoint.url, object_types=("group",))
    fixed = await eventually(
        lambda: records(nc, names, tenant_id), accept=lambda r: r["group"].state == "active"
    )
    assert not fixed["group"].subscription_id.startswith("failed.")
    await ask(nc, names, tenant_id, endpoint.url, action="delete")
    await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: not r)


async def test_a_missing_permission_is_recorded_with_what_to_grant(
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    credentials: dict[str, Credential],
    endpoint: HandshakeEndpoint,
) -> None:
    app = control.add_app(sim.tenants[0]["tenant_id"], permissions=("User.Read.All",))
    tenant_id = new_id()
    credential = simulator_credential(sim, tenant_id, secret=app["client_secret"])
    credentials[tenant_id] = credential.model_copy(update={"client_id": app["client_id"]})

    await ask(nc, names, tenant_id, endpoint.url)
    made = await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: len(r) == 2)

    assert made["user"].state == "active"
    assert made["group"].state == "failed" and made["group"].error is not None
    assert "Group.Read.All application permissions" in made["group"].error
    await ask(nc, names, tenant_id, endpoint.url, action="delete")
    await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: not r)


async def test_a_new_notification_url_replaces_the_subscriptions_posting_to_the_old_one(
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    control: SimulatorControl,
    endpoint: HandshakeEndpoint,
    tenant_id: str,
) -> None:
    await ask(nc, names, tenant_id, endpoint.url, object_types=("user",))
    old = (await eventually(lambda: records(nc, names, tenant_id)))["user"]

    async with HandshakeEndpoint() as moved:
        await ask(nc, names, tenant_id, moved.url, object_types=("user",))
        new = await eventually(
            lambda: records(nc, names, tenant_id),
            accept=lambda r: r["user"].subscription_id != old.subscription_id,
        )
        assert ours(control, sim, endpoint.url) == []
        assert [s["id"] for s in ours(control, sim, moved.url)] == [new["user"].subscription_id]
        await ask(nc, names, tenant_id, moved.url, action="delete")
        await eventually(lambda: records(nc, names, tenant_id), accept=lambda r: not r)
