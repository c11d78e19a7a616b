from __future__ import annotations

from typing import Any

import pytest
from config_fakes import CLIENT_ID, NOW, TENANT_GUID, World, make_world
from entrasync_config import usecases
from entrasync_config.domain import Invalid, NotFound, ProbeFailure
from entrasync_config.domain.explain import explain_graph
from entrasync_config.usecases.connection import read_path
from entrasync_shared.messages import (
    ConnectionTest,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
    TenantTest,
)
from entrasync_shared.subjects import OBJECT_TYPE_NAMES, OBJECT_TYPES, READ_PERMISSIONS
from support.certificates import certificate_pair

SECRET = "Canary~Secret.Value-123"


@pytest.fixture
def world() -> World:
    return make_world()


async def saved_tenant(
    world: World, object_types: tuple[str, ...] | None = None, **profile: Any
) -> Tenant:
    fields = profile or {"client_secret": SECRET}
    created = await usecases.create_profile(
        CredentialProfileCreate.model_validate({"name": "app", "client_id": CLIENT_ID, **fields}),
        world.deps,
    )
    chosen = {"object_types": object_types} if object_types else {}
    request = {"tenant": "contoso.onmicrosoft.com", "profile_id": created.id, **chosen}
    return await usecases.create_tenant(TenantCreate.model_validate(request), world.deps)


async def run(world: World, tenant: Tenant, timeout: float | None = None) -> Any:
    return await usecases.run_tenant_test(
        TenantTest(tenant_id=tenant.id, timeout_seconds=timeout), world.deps
    )


async def test_a_working_connection_reports_every_step_and_the_tenant(world: World) -> None:
    tenant = await saved_tenant(world)

    result = await run(world, tenant)

    assert result.ok and result.error_code is None
    assert (result.tenant_guid, result.display_name) == (TENANT_GUID, "Contoso")
    assert [(s.name, s.object_type, s.status) for s in result.steps] == [
        ("discovery", None, "ok"),
        ("token", None, "ok"),
        ("organization", None, "ok"),
        ("read", "user", "ok"),
        ("read", "group", "ok"),
        ("read", "device", "ok"),
    ]
    assert "Contoso" in result.message and TENANT_GUID in result.message
    assert world.probe.credentials[0].secret == SECRET
    assert world.probe.calls[-3:] == ["users", "groups", "devices"]


async def test_an_unknown_tenant_stops_at_discovery(world: World) -> None:
    tenant = await saved_tenant(world)
    world.probe.failures["discovery"] = ProbeFailure("AADSTS90002", "Tenant not found.", 400)

    result = await run(world, tenant)

    assert not result.ok and result.error_code == "AADSTS90002"
    assert [s.status for s in result.steps] == ["failed"] + ["skipped"] * 5
    assert "was not found in the global cloud" in result.message


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("AADSTS7000215", "client secret is wrong"),
        ("AADSTS7000222", "client secret has expired"),
        ("AADSTS700016", f"Application (client) id {CLIENT_ID} was not found"),
        ("AADSTS700027", "certificate was not accepted"),
        ("AADSTS70021", f"no federated credential on app {CLIENT_ID} that trusts this token"),
        ("AADSTS700211", "names the token's issuer"),
        ("AADSTS700212", "accepts the token's audience"),
        ("AADSTS700213", "system:serviceaccount:<namespace>:<service account>"),
        ("AADSTS700024", "still refreshes the projected token file"),
        ("AADSTS7000272", "not in its issuer's published keys"),
        ("AADSTS50166", "could not read the federated token issuer's OpenID configuration"),
        ("federated_token_unavailable", 'azure.workload.identity/use: "true"'),
        ("AADSTS123456", "Entra ID refused the token request (AADSTS123456)"),
    ],
)
async def test_token_failures_say_what_to_fix(world: World, code: str, words: str) -> None:
    tenant = await saved_tenant(world)
    world.probe.failures["token"] = ProbeFailure(code, "AADSTS: upstream words", 401)

    result = await run(world, tenant)

    assert not result.ok and result.error_code == code
    assert words in result.message
    token = result.steps[1]
    assert (token.status, token.error_code, token.detail) == (
        "failed",
        code,
        "AADSTS: upstream words",
    )


@pytest.mark.parametrize(
    ("path", "object_type", "permission"),
    [
        ("users", "user", "User.Read.All"),
        ("groups", "group", "GroupMember.Read.All"),
        ("devices", "device", "Device.Read.All"),
    ],
)
async def test_a_missing_permission_names_it_and_the_other_reads_still_run(
    world: World, path: str, object_type: str, permission: str
) -> None:
    tenant = await saved_tenant(world)
    denied = ProbeFailure("Authorization_RequestDenied", "Insufficient privileges.", 403)
    world.probe.failures[path] = denied

    result = await run(world, tenant)

    assert not result.ok and result.error_code == "Authorization_RequestDenied"
    assert permission in result.message
    statuses = {s.object_type: s.status for s in result.steps if s.name == "read"}
    assert statuses == {t: "failed" if t == object_type else "ok" for t in statuses}


EVERY_PATH = {
    "user": "users",
    "group": "groups",
    "device": "devices",
    "servicePrincipal": "servicePrincipals",
    "application": "applications",
    "directoryRole": "directoryRoles",
    "administrativeUnit": "directory/administrativeUnits",
    "orgContact": "contacts",
    "roleEligibility": "roleManagement/directory/roleEligibilitySchedules",
}


async def test_a_tenant_syncing_every_type_has_each_type_read(world: World) -> None:
    tenant = await saved_tenant(world, object_types=OBJECT_TYPES)

    result = await run(world, tenant)

    assert result.ok
    assert [s.object_type for s in result.steps if s.name == "read"] == list(OBJECT_TYPES)
    assert world.probe.calls[-len(OBJECT_TYPES) :] == [EVERY_PATH[t] for t in OBJECT_TYPES]


def test_directory_roles_are_read_without_the_query_options_their_list_does_not_take() -> None:
    assert read_path("directoryRole") == "/v1.0/directoryRoles"
    assert read_path("orgContact") == "/v1.0/contacts?$top=1&$select=id"


def test_eligible_role_assignments_are_read_with_select_only_since_their_list_takes_no_top() -> (
    None
):
    path = "/v1.0/roleManagement/directory/roleEligibilitySchedules?$select=id"
    assert read_path("roleEligibility") == path


@pytest.mark.parametrize(
    ("object_type", "least_privileged"),
    [
        ("servicePrincipal", "Application.Read.All"),
        ("application", "Application.Read.All"),
        ("directoryRole", "RoleManagement.Read.Directory"),
        ("administrativeUnit", "AdministrativeUnit.Read.All"),
        ("orgContact", "OrgContact.Read.All"),
        ("roleEligibility", "RoleEligibilitySchedule.Read.Directory"),
    ],
)
async def test_a_new_types_missing_permission_is_named_and_the_others_still_read(
    world: World, object_type: Any, least_privileged: str
) -> None:
    tenant = await saved_tenant(world, object_types=OBJECT_TYPES)
    denied = ProbeFailure("Authorization_RequestDenied", "Insufficient privileges.", 403)
    world.probe.failures[EVERY_PATH[object_type]] = denied

    result = await run(world, tenant)

    assert not result.ok and result.error_code == "Authorization_RequestDenied"
    assert f"lacks {least_privileged} (or " in result.message
    assert OBJECT_TYPE_NAMES[object_type] in result.message
    statuses = {s.object_type: s.status for s in result.steps if s.name == "read"}
    assert statuses == {t: "failed" if t == object_type else "ok" for t in OBJECT_TYPES}


@pytest.mark.parametrize("object_type", OBJECT_TYPES)
def test_a_denied_read_names_the_least_privileged_permission_first(object_type: Any) -> None:
    why = explain_graph("Authorization_RequestDenied", 403, object_type, "graph", 10)

    least, *higher = READ_PERMISSIONS[object_type]
    assert why.startswith(f"The app lacks {least} (or ")
    assert all(p in why for p in higher)
    # Directory.Read.All reads every type but the eligibility schedules (their list's page).
    assert ("Directory.Read.All" in why) == (object_type != "roleEligibility")
    assert f"to read {OBJECT_TYPE_NAMES[object_type]}:" in why


async def test_no_organization_permission_is_only_a_warning(world: World) -> None:
    tenant = await saved_tenant(world)
    world.probe.failures["organization"] = ProbeFailure("Authorization_RequestDenied", "", 403)

    result = await run(world, tenant)

    assert result.ok and result.display_name is None
    assert result.steps[2].status == "warning"
    assert "Organization.Read.All" in result.message


async def test_the_test_is_bounded_by_its_timeout(world: World) -> None:
    tenant = await saved_tenant(world)
    world.probe.delays["users"] = 5.0

    result = await run(world, tenant, timeout=0.3)

    assert not result.ok and result.error_code == "timeout"
    assert [s.status for s in result.steps][3:] == ["failed", "skipped", "skipped"]
    assert result.duration_ms < 2000
    assert "within 0.3 s" in result.message


async def test_a_secret_quoted_upstream_is_redacted(world: World) -> None:
    tenant = await saved_tenant(world)
    world.probe.failures["token"] = ProbeFailure("AADSTS7000215", f"bad secret {SECRET}", 401)

    result = await run(world, tenant)

    assert SECRET not in result.model_dump_json()
    assert result.steps[1].detail == "bad secret [redacted]"


async def test_a_certificate_profile_is_tested_with_key_certificate_and_thumbprint(
    world: World,
) -> None:
    key, certificate = certificate_pair(now=NOW)
    tenant = await saved_tenant(world, private_key_pem=key, certificate_pem=certificate)

    result = await run(world, tenant)

    [credential] = world.probe.credentials
    assert result.ok and credential.secret is None
    assert (credential.private_key_pem, credential.certificate_pem) == (key, certificate)
    assert credential.thumbprint and len(credential.thumbprint) == 40


async def test_unsaved_input_is_tested_with_its_own_object_types(world: World) -> None:
    tenant = await saved_tenant(world)

    result = await usecases.run_unsaved_test(
        ConnectionTest(tenant="fabrikam.com", profile_id=tenant.profile_id, object_types=("user",)),
        world.deps,
    )

    assert result.ok and result.tenant == "fabrikam.com"
    assert [s.object_type for s in result.steps if s.name == "read"] == ["user"]


async def test_unsaved_input_needs_a_known_cloud_and_profile(world: World) -> None:
    with pytest.raises(Invalid) as no_profile:
        await usecases.run_unsaved_test(
            ConnectionTest(tenant="a.com", profile_id="nope"), world.deps
        )
    with pytest.raises(Invalid) as no_cloud:
        await usecases.run_unsaved_test(
            ConnectionTest(tenant="a.com", profile_id="nope", cloud="mars"), world.deps
        )
    with pytest.raises(NotFound):
        await usecases.run_tenant_test(TenantTest(tenant_id="nope"), world.deps)

    assert (no_profile.value.field, no_cloud.value.field) == ("profile_id", "cloud")
    assert world.probe.calls == []


async def test_a_federated_profile_is_tested_with_its_token_file_and_no_secret(
    world: World,
) -> None:
    path = "/var/run/secrets/azure/tokens/azure-identity-token"
    tenant = await saved_tenant(world, kind="federated", federated_token_file=path)

    result = await run(world, tenant)

    [credential] = world.probe.credentials
    assert result.ok and credential.federated and credential.token_file == path
    assert credential.secrets() == ()
