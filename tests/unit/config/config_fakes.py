"""In-memory fakes of config's ports, for unit tests (a plain module, not a conftest)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from entrasync_config.adapters.crypto import AesGcmSecretBox, generate_key
from entrasync_config.domain import (
    ClientCredential,
    ConfigEvent,
    Conflict,
    NotFound,
    ProbeFailure,
    ProfileMissing,
    StoredProfile,
)
from entrasync_config.ports import Deps
from entrasync_shared.clouds import CloudRegistry
from entrasync_shared.messages import CloudEndpoints, CredentialProfile, Tenant

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT_GUID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


class FakeOutbox:
    def __init__(self) -> None:
        self.pending: list[ConfigEvent] = []
        self.published: list[ConfigEvent] = []
        self.broken = False

    def put(self, event: ConfigEvent) -> None:
        self.pending.append(event)

    async def flush(self) -> int:
        if self.broken:
            raise ConnectionError("NATS is down")
        count = len(self.pending)
        self.published += self.pending
        self.pending = []
        return count


class FakeTenants:
    def __init__(self, outbox: FakeOutbox) -> None:
        self.rows: dict[str, Tenant] = {}
        self.deleted: dict[str, Tenant] = {}
        self.cleared_by: dict[str, str] = {}
        self.directories: dict[str, str] = {}  # tenant id -> directory GUID
        self.outbox = outbox
        self.profiles: FakeProfiles | None = None

    def _profile_exists(self, profile_id: str) -> None:
        assert self.profiles is not None
        if profile_id not in self.profiles.rows:
            raise ProfileMissing(profile_id)

    async def add(self, tenant: Tenant, event: ConfigEvent, directory: str | None) -> None:
        self._profile_exists(tenant.profile_id)
        if any((t.tenant, t.cloud) == (tenant.tenant, tenant.cloud) for t in self.rows.values()):
            raise Conflict("taken", field="tenant")
        if directory is not None and await self.holding_directory(directory, tenant.cloud):
            raise Conflict("directory taken", field="tenant")
        self.rows[tenant.id] = tenant
        if directory is not None:
            self.directories[tenant.id] = directory
        self.outbox.put(event)

    def _same_directory(self, directory: str, cloud: str) -> list[Tenant]:
        return [
            t
            for t in self.rows.values()
            if self.directories.get(t.id) == directory and t.cloud == cloud
        ]

    async def holding_directory(self, directory: str, cloud: str) -> Tenant | None:
        return next(iter(self._same_directory(directory, cloud)), None)

    async def record_directory(self, tenant_id: str, directory: str) -> Tenant | None:
        tenant = self.rows.get(tenant_id)
        if tenant is None:
            return None
        self.directories.setdefault(tenant_id, directory)
        if self.directories[tenant_id] != directory:
            return None
        others = [t for t in self._same_directory(directory, tenant.cloud) if t.id != tenant_id]
        return next(iter(others), None)

    async def duplicate_directories(self) -> list[list[Tenant]]:
        groups: dict[tuple[str, str], list[Tenant]] = {}
        for tenant in self.rows.values():
            if tenant.id in self.directories:
                key = (self.directories[tenant.id], tenant.cloud)
                groups.setdefault(key, []).append(tenant)
        return [group for _, group in sorted(groups.items()) if len(group) > 1]

    async def get(self, tenant_id: str) -> Tenant | None:
        return self.rows.get(tenant_id)

    async def all_tenants(self) -> list[Tenant]:
        return list(self.rows.values())

    async def using_profile(self, profile_id: str) -> list[Tenant]:
        return [t for t in self.rows.values() if t.profile_id == profile_id]

    def _check(self, tenant_id: str, version: int) -> None:
        current = self.rows.get(tenant_id)
        if current is None:
            raise NotFound("gone", field="tenant_id")
        if current.version != version:
            raise Conflict("stale", field="version")

    async def replace(self, tenant: Tenant, expected_version: int, event: ConfigEvent) -> None:
        self._check(tenant.id, expected_version)
        self._profile_exists(tenant.profile_id)
        self.rows[tenant.id] = tenant
        self.outbox.put(event)

    async def delete(self, tenant: Tenant, event: ConfigEvent, now: datetime) -> None:
        self._check(tenant.id, tenant.version)
        self.deleted[tenant.id] = self.rows.pop(tenant.id)
        self.directories.pop(tenant.id, None)
        self.outbox.put(event)

    async def clear_full_scan(
        self,
        tenant_id: str,
        run_id: str,
        now: datetime,
        announce: Callable[[Tenant], ConfigEvent],
    ) -> Tenant | None:
        tenant = self.rows.get(tenant_id)
        if tenant is None:
            return None
        if tenant.full_scan_next and self.cleared_by.get(tenant_id) != run_id:
            changes = {"full_scan_next": False, "version": tenant.version + 1, "updated_at": now}
            self.rows[tenant_id] = tenant = tenant.model_copy(update=changes)
            self.cleared_by[tenant_id] = run_id
            self.outbox.put(announce(tenant))
            return tenant
        return tenant if self.cleared_by.get(tenant_id) == run_id else None

    async def ping(self) -> None:
        return None


class FakeProfiles:
    def __init__(self, tenants: FakeTenants, outbox: FakeOutbox) -> None:
        self.rows: dict[str, StoredProfile] = {}
        self.tenants = tenants
        self.outbox = outbox
        tenants.profiles = self

    def _name_free(self, profile: CredentialProfile) -> None:
        if any(
            s.profile.name == profile.name and s.profile.id != profile.id
            for s in self.rows.values()
        ):
            raise Conflict("taken", field="name")

    async def add(self, stored: StoredProfile, event: ConfigEvent) -> None:
        self._name_free(stored.profile)
        self.rows[stored.profile.id] = stored
        self.outbox.put(event)

    async def get(self, profile_id: str) -> StoredProfile | None:
        return self.rows.get(profile_id)

    async def all_profiles(self) -> list[CredentialProfile]:
        return [s.profile for s in self.rows.values()]

    async def replace(
        self, stored: StoredProfile, expected_version: int, event: ConfigEvent
    ) -> None:
        current = self.rows.get(stored.profile.id)
        if current is None:
            raise NotFound("gone", field="profile_id")
        if current.profile.version != expected_version:
            raise Conflict("stale", field="version")
        self._name_free(stored.profile)
        self.rows[stored.profile.id] = stored
        self.outbox.put(event)

    async def delete(
        self, profile_id: str, expected_version: int, event: ConfigEvent
    ) -> list[Tenant]:
        users = await self.tenants.using_profile(profile_id)
        if users:
            return users
        del self.rows[profile_id]
        self.outbox.put(event)
        return []

    async def sealed_secrets(self) -> list[StoredProfile]:
        return list(self.rows.values())

    async def reseal(self, stored: StoredProfile, new: bytes, key_id: str) -> bool:
        current = self.rows[stored.profile.id]
        if (current.sealed, current.profile.version) != (stored.sealed, stored.profile.version):
            return False
        self.rows[stored.profile.id] = StoredProfile(
            current.profile, new, key_id, current.certificate_pem
        )
        return True


@dataclass
class FakeProbe:
    """Scripted Entra/Graph: failures by step (`discovery`, `token`, or a Graph path)."""

    failures: dict[str, ProbeFailure] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    # Directory names -> GUID; other names are directories of their own (a GUID from the name).
    directories: dict[str, str] = field(
        default_factory=lambda: {"contoso.onmicrosoft.com": TENANT_GUID}
    )
    calls: list[str] = field(default_factory=list)
    credentials: list[ClientCredential] = field(default_factory=list)

    async def _step(self, name: str) -> None:
        self.calls.append(name)
        if name in self.delays:
            await asyncio.sleep(self.delays[name])
        if name in self.failures:
            raise self.failures[name]

    async def discover(self, cloud: CloudEndpoints, tenant: str, timeout: float) -> str:
        await self._step("discovery")
        return self.directories.get(tenant) or str(uuid.uuid5(uuid.NAMESPACE_DNS, tenant))

    async def token(
        self, cloud: CloudEndpoints, tenant: str, credential: ClientCredential, timeout: float
    ) -> str:
        self.credentials.append(credential)
        await self._step("token")
        return "token"

    async def graph_get(
        self, cloud: CloudEndpoints, path: str, token: str, timeout: float
    ) -> dict[str, Any]:
        await self._step(path.split("?")[0].removeprefix("/v1.0/"))
        if path.startswith("/v1.0/organization"):
            return {"value": [{"id": TENANT_GUID, "displayName": "Contoso"}]}
        return {"value": []}


@dataclass
class World:
    deps: Deps
    outbox: FakeOutbox
    tenants: FakeTenants
    profiles: FakeProfiles
    probe: FakeProbe


def make_world(keys: list[str] | None = None, today: date | None = None) -> World:
    outbox = FakeOutbox()
    tenants = FakeTenants(outbox)
    profiles = FakeProfiles(tenants, outbox)
    probe = FakeProbe()
    ids = (f"id{n}" for n in itertools.count())
    start = NOW if today is None else datetime.combine(today, NOW.timetz())
    clock = (start + timedelta(seconds=n) for n in itertools.count())
    box = AesGcmSecretBox.from_setting(",".join(keys or [generate_key()]))
    deps = Deps(
        profiles=profiles,
        tenants=tenants,
        box=box,
        clouds=CloudRegistry(),
        events=outbox,
        probe=probe,
        now=lambda: next(clock),
        new_id=lambda: next(ids),
        test_timeout=5.0,
    )
    return World(deps, outbox, tenants, profiles, probe)
