"""Test Connection: discovery → token → organization → one cheap read per object type.

Every step is timed and bounded by one overall deadline; a failure is reported with the Entra or
Graph error code and a sentence saying what to fix. The result never contains the secret.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from entrasync_shared.messages import (
    ConnectionTest,
    ConnectionTestResult,
    TenantRef,
    TenantTest,
)
from entrasync_shared.subjects import FULL_LIST_TYPES, GRAPH_PATHS, ObjectType

from entrasync_config.domain.directories import flag_saved_duplicate
from entrasync_config.domain.errors import Invalid, NotFound
from entrasync_config.domain.explain import explain_discovery, explain_graph, explain_token
from entrasync_config.domain.model import ClientCredential
from entrasync_config.domain.steps import Target
from entrasync_config.ports import Deps, EntraProbe
from entrasync_config.usecases.directories import flag_unsaved_duplicate, record_directory
from entrasync_config.usecases.profiles import open_secret, stored_profile
from entrasync_config.usecases.steps import StepRecorder
from entrasync_config.usecases.tenants import check_cloud, get_tenant, resolve_cloud


def read_path(object_type: ObjectType) -> str:
    if object_type == "directoryRole":
        # List directoryRoles takes no query options (directoryrole-list.md) and returns only
        # the activated roles, a few dozen at most: read them whole.
        return f"/v1.0/{GRAPH_PATHS[object_type]}"
    if object_type in FULL_LIST_TYPES:
        # The schedules' list takes $select but not $top
        # (rbacapplication-list-roleeligibilityschedules.md); a tenant has few of them.
        return f"/v1.0/{GRAPH_PATHS[object_type]}?$select=id"
    return f"/v1.0/{GRAPH_PATHS[object_type]}?$top=1&$select=id"


async def run_tenant_test(request: TenantTest, deps: Deps) -> ConnectionTestResult:
    tenant = await get_tenant(TenantRef(tenant_id=request.tenant_id), deps)
    target = await _target(
        tenant.tenant,
        tenant.cloud,
        tenant.profile_id,
        tenant.object_types,
        request.timeout_seconds,
        deps,
    )
    result = await probe_connection(target, deps.probe, deps.now())
    other = await record_directory(tenant.id, result.tenant_guid, deps)
    return flag_saved_duplicate(result, other)


async def run_unsaved_test(request: ConnectionTest, deps: Deps) -> ConnectionTestResult:
    check_cloud(request.cloud, deps)
    try:
        target = await _target(
            request.tenant,
            request.cloud,
            request.profile_id,
            request.object_types,
            request.timeout_seconds,
            deps,
        )
    except NotFound as err:
        raise Invalid(err.message, field=err.field) from None
    result = await probe_connection(target, deps.probe, deps.now())
    return await flag_unsaved_duplicate(result, request.cloud, deps)


async def _target(
    tenant: str,
    cloud: str,
    profile_id: str,
    object_types: tuple[ObjectType, ...],
    timeout: float | None,
    deps: Deps,
) -> Target:
    stored = await stored_profile(profile_id, deps)
    profile = stored.profile
    plaintext = open_secret(stored, deps)
    certificate = profile.kind == "certificate"
    credential = ClientCredential(
        client_id=profile.client_id,
        secret=plaintext if profile.kind == "secret" else None,
        private_key_pem=plaintext if certificate else None,
        certificate_pem=stored.certificate_pem if certificate else None,
        thumbprint=profile.certificate_thumbprint,
        federated=profile.kind == "federated",
        token_file=profile.federated_token_file,
    )
    return Target(
        tenant=tenant,
        cloud_name=cloud,
        cloud=resolve_cloud(cloud, deps),
        credential=credential,
        object_types=object_types,
        timeout=min(timeout or deps.test_timeout, 120.0),
    )


async def _discover(steps: StepRecorder, probe: EntraProbe) -> str | None:
    target = steps.target
    guid, failure, ms = await steps.run(lambda t: probe.discover(target.cloud, target.tenant, t))
    why = None
    if failure is not None:
        why = explain_discovery(
            failure.code, target.tenant, target.cloud_name, steps.login, target.timeout
        )
    steps.add("discovery", ms, failure, why)
    return guid


async def _sign_in(steps: StepRecorder, probe: EntraProbe, guid: str) -> str | None:
    target = steps.target
    token, failure, ms = await steps.run(
        lambda t: probe.token(target.cloud, guid, target.credential, t)
    )
    why = None
    if failure is not None:
        why = explain_token(
            failure.code,
            target.tenant,
            target.cloud_name,
            target.credential.client_id,
            steps.login,
            target.timeout,
        )
    steps.add("token", ms, failure, why)
    return token


async def _organization(steps: StepRecorder, probe: EntraProbe, token: str) -> str | None:
    """The display name; a missing permission here is only a warning (syncs don't need it)."""
    target = steps.target
    body, failure, ms = await steps.run(
        lambda t: probe.graph_get(target.cloud, "/v1.0/organization", token, t)
    )
    if failure is None:
        steps.add("organization", ms)
        return _display_name(body)
    denied = failure.status == 403 or failure.code == "Authorization_RequestDenied"
    why = explain_graph(failure.code, failure.status, None, steps.graph, target.timeout)
    if denied:
        why += " Syncing does not need it; only the tenant's display name stays unknown."
    steps.add("organization", ms, failure, why, warning=denied)
    return None


async def _reads(steps: StepRecorder, probe: EntraProbe, token: str) -> None:
    """One cheap read per object type; all run, so every missing permission shows at once."""
    target = steps.target
    for object_type in target.object_types:
        path = read_path(object_type)
        _, failure, ms = await steps.run(partial(probe.graph_get, target.cloud, path, token))
        why = None
        if failure is not None:
            why = explain_graph(
                failure.code, failure.status, object_type, steps.graph, target.timeout
            )
        steps.add("read", ms, failure, why, object_type=object_type)
        if failure is not None and failure.code == "timeout":
            return


def _display_name(body: dict[str, Any] | None) -> str | None:
    organizations = (body or {}).get("value") or []
    if organizations and isinstance(organizations[0], dict):
        name = organizations[0].get("displayName")
        return name if isinstance(name, str) else None
    return None


async def probe_connection(
    target: Target, probe: EntraProbe, tested_at: datetime
) -> ConnectionTestResult:
    steps = StepRecorder(target)
    guid = await _discover(steps, probe)
    token = await _sign_in(steps, probe, guid) if guid else None
    display = await _organization(steps, probe, token) if token else None
    if token and not steps.failed():
        await _reads(steps, probe, token)
    steps.skip_the_rest()
    return steps.result(tested_at, guid, display)
