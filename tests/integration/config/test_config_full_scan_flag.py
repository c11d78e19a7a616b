from __future__ import annotations

from datetime import timedelta

import pytest
from config_helpers import consumer_caught_up, stream_messages
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    SyncMode,
    SyncRecorded,
    Tenant,
    TenantCreate,
    TenantRef,
    TenantUpdate,
    TenantUpdated,
    TypeCounts,
    sync_recorded_event,
    utcnow,
)
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from support.polling import eventually

pytestmark = pytest.mark.usefixtures("config_service")


async def new_tenant(nc: NatsClient, names: Names) -> Tenant:
    profile: CredentialProfile = await call(
        nc,
        names.api("config", "profile.create"),
        CredentialProfileCreate(
            name="p", client_id="11111111-2222-3333-4444-555555555555", client_secret="s"
        ),
        CredentialProfile,
    )
    return await call(
        nc,
        names.api("config", "tenant.create"),
        TenantCreate(tenant="fabrikam.onmicrosoft.com", profile_id=profile.id),
        Tenant,
    )


def recorded(tenant: Tenant, run_id: str, status: str, mode: SyncMode = "full") -> SyncRecorded:
    now = utcnow()
    return SyncRecorded.model_validate(
        {
            "tenant_id": tenant.id,
            "run_id": run_id,
            "mode": mode,
            "reason": "first",
            "status": status,
            "started_at": now - timedelta(seconds=5),
            "finished_at": now,
            "types": [
                TypeCounts(object_type=t, mode=mode, reason="first", status=status)
                for t in tenant.object_types
            ],
        }
    )


async def publish(nc: NatsClient, names: Names, event: SyncRecorded, msg_id: str) -> None:
    await nc.jetstream().publish(
        names.sync_recorded(event.tenant_id),
        sync_recorded_event(event).model_dump_json().encode(),
        stream=names.events_stream,
        headers={"Nats-Msg-Id": msg_id},
    )


async def fetch(nc: NatsClient, names: Names, tenant: Tenant) -> Tenant:
    return await call(nc, names.api("config", "tenant.get"), TenantRef(tenant_id=tenant.id), Tenant)


async def wait_until_config_consumed(nc: NatsClient, names: Names) -> None:
    consumer = names.consumer("config", "sync-recorded")
    await eventually(lambda: consumer_caught_up(nc, names.events_stream, consumer), accept=bool)


async def test_failed_or_delta_runs_leave_the_full_scan_flag_set(
    nc: NatsClient, names: Names
) -> None:
    tenant = await new_tenant(nc, names)

    await publish(nc, names, recorded(tenant, "run-1", "Failed"), "r1")
    await publish(nc, names, recorded(tenant, "run-2", "Succeeded", mode="delta"), "r2")
    await wait_until_config_consumed(nc, names)

    assert await fetch(nc, names, tenant) == tenant
    assert await stream_messages(nc, names.config_stream, names.tenant_event("updated")) == []


async def test_a_succeeded_full_run_clears_the_flag_once(nc: NatsClient, names: Names) -> None:
    tenant = await new_tenant(nc, names)

    await publish(nc, names, recorded(tenant, "run-1", "Succeeded"), "r1")
    cleared = await eventually(
        lambda: fetch(nc, names, tenant), accept=lambda t: not t.full_scan_next
    )
    await publish(nc, names, recorded(tenant, "run-1", "Succeeded"), "r1-redelivered")
    await publish(nc, names, recorded(tenant, "run-2", "Succeeded"), "r2")
    await wait_until_config_consumed(nc, names)

    assert cleared.version == 2 and cleared.updated_at > tenant.updated_at
    assert await fetch(nc, names, tenant) == cleared
    [msg] = await stream_messages(nc, names.config_stream, names.tenant_event("updated"))
    assert TenantUpdated.model_validate_json(msg.data or b"").tenant == cleared


async def test_a_malformed_sync_recorded_is_parked_on_the_dead_letter_subject(
    nc: NatsClient, names: Names
) -> None:
    await nc.jetstream().publish(
        names.sync_recorded("x"), b'{"tenant_id": 3}', stream=names.events_stream
    )
    await wait_until_config_consumed(nc, names)

    [parked] = await stream_messages(nc, names.dead_letter_stream, names.dead_letter("config"))
    assert parked.data == b'{"tenant_id": 3}'
    assert "not a CloudEvent[SyncRecorded]" in (parked.headers or {})["Entrasync-Reason"]


async def test_a_flag_set_again_by_an_admin_survives_a_replay_of_the_run_that_cleared_it(
    nc: NatsClient, names: Names
) -> None:
    tenant = await new_tenant(nc, names)
    await publish(nc, names, recorded(tenant, "run-1", "Succeeded"), "r1")
    cleared = await eventually(
        lambda: fetch(nc, names, tenant), accept=lambda t: not t.full_scan_next
    )
    again: Tenant = await call(
        nc,
        names.api("config", "tenant.update"),
        TenantUpdate(tenant_id=tenant.id, version=cleared.version, full_scan_next=True),
        Tenant,
    )

    await publish(nc, names, recorded(tenant, "run-1", "Succeeded"), "r1-replayed")
    await wait_until_config_consumed(nc, names)

    assert again.full_scan_next and await fetch(nc, names, tenant) == again
