"""Microsoft's own clients against the simulator: MSAL for tokens, msgraph-sdk for Graph.

If the official SDK pages through delta rounds, follows their links after changes and parses
every object into its models, the simulator's wire format is what those clients expect.
"""

from __future__ import annotations

import ssl
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from azure.core.credentials import TokenCredential
from azure.identity import CertificateCredential, ClientSecretCredential
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from sim_helpers import msal_app, msal_session

with warnings.catch_warnings():
    # Importing msgraph's generated builders warns (DeprecationWarning) at class definition.
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.devices.delta.delta_request_builder import (
        DeltaRequestBuilder as DevicesDelta,
    )
    from msgraph.generated.groups.delta.delta_request_builder import (
        DeltaRequestBuilder as GroupsDelta,
    )
    from msgraph.generated.models.device import Device
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.organization import Organization
    from msgraph.generated.models.user import User
    from msgraph.generated.users.delta.delta_request_builder import (
        DeltaRequestBuilder as UsersDelta,
    )
    from msgraph_core import GraphClientFactory

SDK_PAGE_SIZE = 4
# msgraph's generated request builders are imported lazily and warn when their (deprecated)
# per-builder configuration classes are defined; those warnings are the SDK's, not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def small_pages(control: SimulatorControl) -> Iterator[None]:
    before = control.configure()
    control.configure(page_size=SDK_PAGE_SIZE)
    yield
    control.configure(**before)


def _secret_credential(sim: SimulatorProcess, tenant: dict[str, Any]) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant["tenant_id"],
        tenant["client_id"],
        tenant["client_secret"],
        authority=sim.authority_host,
        connection_verify=sim.ca_file,
        disable_instance_discovery=True,
    )


async def _sdk(
    sim: SimulatorProcess, credential: TokenCredential
) -> tuple[GraphServiceClient, httpx.AsyncHTTPTransport]:
    """The SDK over a client trusting the simulator CA; close the returned transport after:
    Kiota's middleware transport does not close the one it wraps."""
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[f"{sim.graph_url}/.default"], allowed_hosts=["127.0.0.1"]
    )
    transport = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=sim.ca_file))
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(
            transport=transport, trust_env=False, base_url=f"{sim.graph_url}/v1.0"
        )
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{sim.graph_url}/v1.0"
    return GraphServiceClient(request_adapter=adapter), transport


@pytest.fixture
async def sdk(
    sim: SimulatorProcess, tenant: dict[str, Any], small_pages: None
) -> AsyncIterator[GraphServiceClient]:
    credential = _secret_credential(sim, tenant)
    client, transport = await _sdk(sim, credential)
    yield client
    await transport.aclose()
    credential.close()


async def _round(builder: Any, first: Any) -> tuple[list[Any], int, str]:
    """(objects, pages, deltaLink) of one SDK-driven round."""
    page, pages = first, 1
    objects = list(page.value)
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        objects += page.value
        pages += 1
    assert page.odata_delta_link
    return objects, pages, page.odata_delta_link


def _members(groups: list[Any]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for group in groups:
        slice_ = group.additional_data.get("members@delta", [])
        merged.setdefault(group.id, []).extend(str(m["id"]) for m in slice_)
    return {gid: sorted(ids) for gid, ids in merged.items()}


def test_msal_obtains_tokens_with_a_secret_and_with_a_certificate(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    credentials = [
        tenant["client_secret"],
        {"private_key": tenant["private_key_pem"], "thumbprint": tenant["thumbprint"]},
        {"private_key": tenant["private_key_pem"], "public_certificate": tenant["certificate_pem"]},
    ]
    results = []
    with msal_session(sim.ca_file) as session:
        for credential in credentials:
            app = msal_app(sim, tenant["client_id"], credential, tenant["tenant_id"], session)
            results.append(app.acquire_token_for_client([f"{sim.graph_url}/.default"]))

    assert all(r.get("token_type") == "Bearer" and r["access_token"] for r in results), results


async def test_the_graph_sdk_pages_every_kind_and_follows_delta_links_after_changes(
    sdk: GraphServiceClient, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    tid = tenant["tenant_id"]
    truth = control.state(tid)
    users_q = UsersDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "userPrincipalName", "accountEnabled", "userType"]
    )
    groups_q = GroupsDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "groupTypes", "members"]
    )
    devices_q = DevicesDelta.DeltaRequestBuilderGetQueryParameters(
        select=["displayName", "operatingSystem", "accountEnabled"]
    )

    users, user_pages, users_link = await _round(
        sdk.users.delta, await sdk.users.delta.get(RequestConfiguration(query_parameters=users_q))
    )
    groups, group_pages, groups_link = await _round(
        sdk.groups.delta,
        await sdk.groups.delta.get(RequestConfiguration(query_parameters=groups_q)),
    )
    devices, device_pages, devices_link = await _round(
        sdk.devices.delta,
        await sdk.devices.delta.get(RequestConfiguration(query_parameters=devices_q)),
    )

    assert min(user_pages, group_pages, device_pages) > 1
    assert all(isinstance(u, User) for u in users)
    assert all(isinstance(g, Group) for g in groups)
    assert all(isinstance(d, Device) for d in devices)
    assert {u.id: (u.display_name, u.account_enabled, u.user_type) for u in users} == {
        u["id"]: (u["displayName"], u["accountEnabled"], u["userType"]) for u in truth["users"]
    }
    assert _members(groups) == {g["id"]: g["members"] for g in truth["groups"]}
    assert {d.id: d.operating_system for d in devices} == {
        d["id"]: d["operatingSystem"] for d in truth["devices"]
    }

    group = next(g for g in truth["groups"] if g["members"])
    leaver, gone_device = group["members"][0], truth["devices"][0]["id"]
    renamed, deleted = [u["id"] for u in truth["users"] if u["id"] != leaver][:2]
    ids = control.mutate(
        tid,
        [
            {"op": "create", "type": "user", "attrs": {"displayName": "Grace Hopper"}},
            {"op": "update", "type": "user", "id": renamed, "attrs": {"displayName": "Renamed"}},
            {"op": "soft_delete", "type": "user", "id": deleted},
            {"op": "add_member", "group_id": group["id"], "member_id": "$0"},
            {"op": "remove_member", "group_id": group["id"], "member_id": leaver},
            {"op": "hard_delete", "type": "device", "id": gone_device},
        ],
    )

    users_after, _, _ = await _round(
        sdk.users.delta, await sdk.users.delta.with_url(users_link).get()
    )
    groups_after, _, _ = await _round(
        sdk.groups.delta, await sdk.groups.delta.with_url(groups_link).get()
    )
    devices_after, _, _ = await _round(
        sdk.devices.delta, await sdk.devices.delta.with_url(devices_link).get()
    )

    changed = {u.id: u for u in users_after}
    assert set(changed) == {ids[0], renamed, deleted}
    assert changed[ids[0]].display_name == "Grace Hopper"
    assert changed[renamed].display_name == "Renamed"
    assert changed[deleted].additional_data["@removed"] == {"reason": "changed"}
    [group_change] = groups_after
    slices = group_change.additional_data["members@delta"]
    assert {(str(m["id"]), "@removed" in m) for m in slices} == {(ids[0], False), (leaver, True)}
    [device_change] = devices_after
    assert device_change.id == gone_device
    assert device_change.additional_data["@removed"] == {"reason": "deleted"}


async def test_the_graph_sdk_signs_in_with_a_certificate_credential(
    sim: SimulatorProcess, tenant: dict[str, Any]
) -> None:
    pem = (tenant["private_key_pem"] + tenant["certificate_pem"]).encode()
    credential = CertificateCredential(
        tenant["tenant_id"],
        tenant["client_id"],
        certificate_data=pem,
        authority=sim.authority_host,
        connection_verify=sim.ca_file,
        disable_instance_discovery=True,
    )
    client, transport = await _sdk(sim, credential)
    try:
        organizations = await client.organization.get()
    finally:
        await transport.aclose()
        credential.close()

    assert organizations is not None
    [organization] = organizations.value
    assert isinstance(organization, Organization)
    assert organization.id == tenant["tenant_id"]
    assert organization.verified_domains[0].name == tenant["domain"]


async def test_the_graph_sdk_waits_out_an_injected_429_on_its_own(
    sdk: GraphServiceClient, control: SimulatorControl
) -> None:
    # Whole seconds: Kiota's RetryHandler int()-parses Retry-After, so a fractional value
    # like Graph's "2.128" falls back to its own 3-4 s backoff.
    control.inject_fault("users/delta", status=429, count=1, retry_after="1")
    started = time.monotonic()
    try:
        page = await sdk.users.delta.get()
    finally:
        faults = control.faults()
        control.clear_faults()

    assert page is not None and page.value
    assert faults[0]["hits"] == 1
    assert time.monotonic() - started >= 1


async def test_the_graph_sdk_reads_the_whole_directory_into_its_models(
    sdk: GraphServiceClient, control: SimulatorControl, tenant: dict[str, Any]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from msgraph.generated.models.administrative_unit import AdministrativeUnit
        from msgraph.generated.models.application import Application
        from msgraph.generated.models.directory_role import DirectoryRole
        from msgraph.generated.models.org_contact import OrgContact
        from msgraph.generated.models.service_principal import ServicePrincipal
    truth = control.state(tenant["tenant_id"])
    builders = {
        "servicePrincipals": (sdk.service_principals.delta, ServicePrincipal),
        "applications": (sdk.applications.delta, Application),
        "directoryRoles": (sdk.directory_roles.delta, DirectoryRole),
        "administrativeUnits": (sdk.directory.administrative_units.delta, AdministrativeUnit),
        "contacts": (sdk.contacts.delta, OrgContact),
    }

    read = {}
    for kind, (builder, model) in builders.items():
        objects, _, _ = await _round(builder, await builder.get())
        assert all(isinstance(o, model) for o in objects), kind
        read[kind] = objects

    for kind, objects in read.items():
        # A unit or role with more members than a slice spans several entries.
        assert {o.id for o in objects} == {o["id"] for o in truth[kind]}, kind
    roles = {r.id: r for r in read["directoryRoles"]}
    assert {r["id"]: r["roleTemplateId"] for r in truth["directoryRoles"]} == {
        i: r.role_template_id for i, r in roles.items()
    }
    # Soft-deleted members keep their edges in rounds; the truth lists live members only.
    live = {o["id"] for objects in truth.values() for o in objects}
    listed = {r: [m for m in ms if m in live] for r, ms in _members(read["directoryRoles"]).items()}
    assert listed == {r["id"]: sorted(r["members"]) for r in truth["directoryRoles"]}
    secrets = [c for app in read["applications"] for c in app.password_credentials or []]
    assert all(c.end_date_time is not None for c in secrets)
