"""Deterministic tenant and directory seeding from a single integer seed."""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_sim.clock import isoformat
from entrasync_sim.credentials import make_certificate
from entrasync_sim.schema import Kind
from entrasync_sim.seed_directory import seed_more
from entrasync_sim.tenants import AppRegistration, Tenant

_ORG_NAMES = ["contoso", "fabrikam", "northwind", "tailspin", "adatum", "litware", "woodgrove"]
_FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dan",
    "Eva",
    "Finn",
    "Grace",
    "Hugo",
    "Ines",
    "Jon",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olga",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vic",
]
_LAST = [
    "Adams",
    "Baker",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Muller",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Smith",
]
_TITLES = ["Engineer", "Analyst", "Manager", "Designer", "Consultant", "Technician", None]
_DEPARTMENTS = ["Engineering", "Finance", "Sales", "Marketing", "HR", "Operations", None]
_TEAMS = ["Project", "Team", "Office", "Committee", "Guild", "Squad", "Crew"]
_OS = [("Windows", "10.0.22631"), ("macOS", "14.4"), ("iOS", "17.4"), ("Android", "14")]
_TRUST = ["AzureAd", "ServerAd", "Workplace"]
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_SECRET_ALPHABET = string.ascii_letters + string.digits + "~._-"


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ids(rng: random.Random, count: int) -> list[str]:
    """`count` GUIDs, sorted, each string made in that order.

    Rounds walk objects in id order; objects (with their ids and properties) made in that
    order sit in memory next to their neighbours in a round, so rendering a first round reads
    memory in order instead of at random: half the cost.
    """
    values = sorted(uuid.UUID(int=rng.getrandbits(128), version=4).int for _ in range(count))
    return [str(uuid.UUID(int=value)) for value in values]


def _moment(rng: random.Random) -> str:
    return isoformat(_EPOCH + timedelta(seconds=rng.randrange(4 * 365 * 86400)))


@dataclass(frozen=True)
class ExtraCounts:
    """How many service principals, applications, contacts and administrative units a seeded
    tenant holds; None scales with its users (see `resolve`)."""

    service_principals: int | None = None
    applications: int | None = None
    contacts: int | None = None
    administrative_units: int | None = None

    def resolve(self, users: int) -> dict[str, int]:
        """The counts, defaults filled in: per 10k users 1,000 service principals, 500 apps,
        200 contacts and 5 units (100k users: issue 20's 10k, 5k, 2k and 50); none without
        users, at least two service principals and contacts, one app and one unit otherwise."""
        scaled = {
            "service_principals": max(2, users // 10),
            "applications": max(1, users // 20),
            "contacts": max(2, users // 50),
            "administrative_units": max(1, min(50, users // 2000)),
        }
        if not users:
            scaled = dict.fromkeys(scaled, 0)
        return {name: scaled[name] if given is None else given for name, given in self.pairs()}

    def pairs(self) -> list[tuple[str, int | None]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


EXTRA_COUNTS = tuple(f.name for f in fields(ExtraCounts))


def seed_tenants(
    seed: int,
    count: int,
    users: int,
    groups: int,
    devices: int,
    certificates: bool = True,
    extra: ExtraCounts = ExtraCounts(),
) -> list[Tenant]:
    """Build `count` tenants, each with the given numbers of objects; same seed, same data.

    App certificates are derived from the seed too (RSA primes drawn from a seeded RNG).
    """
    rng = random.Random(seed)
    return [
        seed_tenant(rng, index, users, groups, devices, certificates, extra=extra)
        for index in range(count)
    ]


def seed_tenant(
    rng: random.Random,
    index: int,
    users: int,
    groups: int,
    devices: int,
    certificates: bool = True,
    taken: Callable[[str], bool] = lambda _domain: False,
    extra: ExtraCounts = ExtraCounts(),
) -> Tenant:
    """The `index`-th tenant drawn from `rng`; its domain number is drawn again while `taken`
    says another tenant holds it (tenants added to a running simulator)."""
    name = _ORG_NAMES[index % len(_ORG_NAMES)] + (str(index) if index >= 7 else "")
    app = AppRegistration(
        client_id=_guid(rng),
        client_secret="".join(rng.choice(_SECRET_ALPHABET) for _ in range(40)),
    )
    number = rng.randrange(100, 1000)
    while taken(f"{name}{number}.onmicrosoft.com"):
        number = rng.randrange(100, 1000)
    tenant = Tenant(
        tenant_id=_guid(rng),
        domain=f"{name}{number}.onmicrosoft.com",
        extra_domains=[f"{name}{number}.example.com"],
        display_name=f"{name.capitalize()} Ltd",
        apps={app.client_id: app},
    )
    key_rng = random.Random(rng.getrandbits(64))
    if certificates:
        app.certificate = make_certificate(f"entrasync-sim {tenant.domain}", key_rng)
    counts = extra.resolve(users)
    _seed_directory(tenant, rng, users, groups, devices, counts)
    return tenant


def _seed_directory(
    tenant: Tenant,
    rng: random.Random,
    users: int,
    groups: int,
    devices: int,
    counts: dict[str, int],
) -> None:
    directory, domain = tenant.directory, tenant.domain
    user_ids, device_ids, group_ids = _ids(rng, users), _ids(rng, devices), _ids(rng, groups)
    user_rows = [(user_id, _user(rng, n, domain)) for n, user_id in enumerate(user_ids)]
    device_rows = [(device_id, _device(rng)) for device_id in device_ids]
    group_rows = [(group_id, _group(rng, n)) for n, group_id in enumerate(group_ids)]

    # Service principals and contacts come from their own generator, seeded by the domain, so
    # the users, groups and devices every seed made before stay exactly what they were.
    extra = random.Random(f"apps and contacts of {domain}")
    sp_rows, contact_rows = _principals_and_contacts(extra, counts)
    # Microsoft 365 groups take users only (group-post-members.md): security groups only.
    security = [n for n, (_, props) in enumerate(group_rows) if not props["groupTypes"]]
    guests = _guest_members(extra, security, [i for i, _ in sp_rows], [i for i, _ in contact_rows])

    def memberships() -> Iterator[tuple[str, dict[str, Kind]]]:
        for n, group_id in enumerate(group_ids):
            members = _members(rng, n, user_ids, device_ids, group_ids)
            yield group_id, members | guests.get(n, {})

    directory.bulk_load("users", user_rows)
    directory.bulk_load("devices", device_rows)
    directory.bulk_load("servicePrincipals", sp_rows)
    directory.bulk_load("contacts", contact_rows)
    directory.bulk_load("groups", group_rows, memberships())
    # Roles, units, apps and the rest have a generator of their own too, for the same reason.
    seed_more(random.Random(f"roles and units of {domain}"), tenant.tenant_id, directory, counts)


def _principals_and_contacts(
    rng: random.Random, counts: dict[str, int]
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
    """Service principals and contacts as `counts` says (none without users)."""
    sp_ids = _ids(rng, counts["service_principals"])
    contact_ids = _ids(rng, counts["contacts"])
    return (
        [(i, _service_principal(rng, n)) for n, i in enumerate(sp_ids)],
        [(i, _contact(rng, n)) for n, i in enumerate(contact_ids)],
    )


def _guest_members(
    rng: random.Random, security: list[int], sps: list[str], contacts: list[str]
) -> dict[int, dict[str, Kind]]:
    """Group number → service principals and contacts among its members, in the `security`
    groups: the first has one of each (so every seeded tenant with users and a security group
    has both kinds of member), then about one in ten a service principal, one in twenty a
    contact."""
    chosen: dict[int, dict[str, Kind]] = {}
    if not (security and sps and contacts):
        return chosen
    chosen[security[0]] = {rng.choice(sps): "servicePrincipals", rng.choice(contacts): "contacts"}
    for n in security[1:]:
        if rng.random() < 0.1:
            chosen.setdefault(n, {})[rng.choice(sps)] = "servicePrincipals"
        if rng.random() < 0.05:
            chosen.setdefault(n, {})[rng.choice(contacts)] = "contacts"
    return chosen


def _service_principal(rng: random.Random, n: int) -> dict[str, Any]:
    name = f"{rng.choice(_TEAMS)} App {n}"
    return {
        "displayName": name,
        "appDisplayName": name,
        "appId": _guid(rng),
        "servicePrincipalType": rng.choice(["Application", "Application", "ManagedIdentity"]),
        "accountEnabled": rng.random() >= 0.05,
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"] if rng.random() < 0.5 else [],
    }


def _contact(rng: random.Random, n: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    nickname = f"{first.lower()}.{last.lower()}{n}"
    return {
        "displayName": f"{first} {last} (external)",
        "givenName": first,
        "surname": last,
        "mail": f"{nickname}@partner.example.com",
        "mailNickname": nickname,
        "companyName": rng.choice(["Partner Ltd", "Supplier Inc", "Agency LLC"]),
    }


def _user(rng: random.Random, n: int, domain: str) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    upn = f"{first.lower()}.{last.lower()}{n}@{domain}"
    return {
        "displayName": f"{first} {last}",
        "givenName": first,
        "surname": last,
        "userPrincipalName": upn,
        "mail": upn,
        "accountEnabled": rng.random() >= 0.1,
        "userType": "Guest" if rng.random() < 0.05 else "Member",
        "jobTitle": rng.choice(_TITLES),
        "department": rng.choice(_DEPARTMENTS),
        "createdDateTime": _moment(rng),
    }


def _group(rng: random.Random, n: int) -> dict[str, Any]:
    unified = rng.random() < 0.3
    nickname = f"{rng.choice(_TEAMS).lower()}{n}"
    return {
        "displayName": f"{rng.choice(_TEAMS)} {n}",
        "description": rng.choice([None, f"Seeded group number {n}"]),
        "mailNickname": nickname,
        "mailEnabled": unified or rng.random() < 0.2,
        "securityEnabled": not unified or rng.random() < 0.5,
        "groupTypes": ["Unified"] if unified else [],
        "createdDateTime": _moment(rng),
    }


def _device(rng: random.Random) -> dict[str, Any]:
    system, version = rng.choice(_OS)
    return {
        "displayName": "DEV-" + "".join(rng.choice(string.ascii_uppercase) for _ in range(7)),
        "deviceId": _guid(rng),
        "operatingSystem": system,
        "operatingSystemVersion": version,
        "accountEnabled": rng.random() >= 0.05,
        "trustType": rng.choice(_TRUST),
        "approximateLastSignInDateTime": _moment(rng),
    }


def _group_size(rng: random.Random, n: int, users: int) -> int:
    """Skewed sizes: mostly small, some hundreds, now and then thousands, and a few whales."""
    if n % 7000 == 3:
        return rng.randint(min(10_000, users // 4), min(25_000, users // 2))
    roll = rng.random()
    if roll < 0.1:
        return 0
    if roll < 0.85:
        return rng.randint(1, min(users, 40))
    if roll < 0.97:
        return rng.randint(1, min(users, 200))
    return rng.randint(1, min(users, 2000))


def _members(
    rng: random.Random, n: int, users: list[str], devices: list[str], groups: list[str]
) -> dict[str, Kind]:
    size = _group_size(rng, n, len(users)) if users else 0
    if not size:
        return {}
    chosen: dict[str, Kind] = dict.fromkeys(rng.sample(users, size), "users")
    if devices and rng.random() < 0.15:
        chosen[rng.choice(devices)] = "devices"
    if n and rng.random() < 0.15:
        chosen[groups[rng.randrange(n)]] = "groups"  # only earlier groups: no cycles
    return chosen
