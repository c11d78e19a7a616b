"""Entra ID side: OpenID discovery and the client-credentials token endpoint."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from entrasync_sim.errors import aad_error
from entrasync_sim.runtime import Simulator
from entrasync_sim.tenants import AppRegistration, Tenant

_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


def _sim(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _tenant_not_found(request: Request, error: str) -> JSONResponse:
    name = request.path_params["tenant"]
    text = (
        f"Tenant '{name}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud."
    )
    return aad_error(_sim(request).clock, 400, error, 90002, text)


async def openid_configuration(request: Request) -> Response:
    """OpenID Connect discovery document of a tenant (GUID or domain)."""
    tenant = _sim(request).tenants.resolve(request.path_params["tenant"])
    if tenant is None:
        return _tenant_not_found(request, "invalid_tenant")
    base, tid = _base(request), tenant.tenant_id
    return JSONResponse(
        {
            "issuer": f"{base}/{tid}/v2.0",
            "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
            "end_session_endpoint": f"{base}/{tid}/oauth2/v2.0/logout",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }
    )


async def jwks(request: Request) -> Response:
    """Signing keys: none published, tokens are HMAC-signed with a process-local key."""
    if _sim(request).tenants.resolve(request.path_params["tenant"]) is None:
        return _tenant_not_found(request, "invalid_tenant")
    return JSONResponse({"keys": []})


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            return client_id, secret
        except ValueError:
            return "", None
    return form.get("client_id", ""), form.get("client_secret")


def _authenticate(
    request: Request, tenant: Tenant, app: AppRegistration, secret: str | None
) -> Response | None:
    clock = _sim(request).clock
    if secret is None:
        text = (
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'."
        )
        return aad_error(clock, 401, "invalid_client", 7000218, text)
    if secret != app.client_secret:
        text = (
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'."
        )
        return aad_error(clock, 401, "invalid_client", 7000215, text)
    return None


def _is_this_server(request: Request, resource: str) -> bool:
    """Whether `resource` names this server's Graph, by either local name for the host."""
    url = urlsplit(resource)
    local_names = {"localhost", "127.0.0.1", request.url.hostname}
    return (
        url.scheme == "https"
        and url.path == ""
        and url.port == request.url.port
        and url.hostname in local_names
    )


def _check_scope(request: Request, tenant: Tenant, scope: str) -> Response | None:
    clock = _sim(request).clock
    scopes = [s for s in scope.split() if s not in _RESERVED_SCOPES]
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        text = (
            f"The provided value for scope {scope} is not valid. Client credential flows must "
            "have a scope value with /.default suffixed to the resource identifier."
        )
        return aad_error(clock, 400, "invalid_scope", 1002012, text)
    resource = scopes[0].removesuffix("/.default").rstrip("/")
    if not _is_this_server(request, resource):
        text = (
            f"The resource principal named {resource} was not found in the tenant named "
            f"{tenant.display_name}."
        )
        return aad_error(clock, 400, "invalid_resource", 500011, text)
    return None


def _issue(request: Request, tenant: Tenant, app: AppRegistration) -> dict[str, Any]:
    sim = _sim(request)
    now = sim.clock.timestamp()
    claims = {
        "aud": _base(request),
        "iss": f"https://sts.windows.net/{tenant.tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + sim.token_lifetime,
        "tid": tenant.tenant_id,
        "appid": app.client_id,
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, app.client_id)),
        "idtyp": "app",
        "roles": [],
        "uti": uuid.uuid4().hex,
        "ver": "1.0",
    }
    token = jwt.encode(claims, sim.signing_key, algorithm="HS256")
    lifetime = sim.token_lifetime
    return {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    }


async def token(request: Request) -> Response:
    """Client-credentials token endpoint."""
    sim = _sim(request)
    tenant = sim.tenants.resolve(request.path_params["tenant"])
    if tenant is None:
        return _tenant_not_found(request, "invalid_request")
    # parse_qsl instead of request.form(): no python-multipart dependency for one form.
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    for name in ("grant_type", "scope"):
        if not form.get(name):
            text = f"The request body must contain the following parameter: '{name}'."
            return aad_error(sim.clock, 400, "invalid_request", 900144, text)
    if form["grant_type"] != "client_credentials":
        text = "The provided value for the input parameter 'grant_type' is not valid."
        return aad_error(sim.clock, 400, "unsupported_grant_type", 70003, text)
    client_id, secret = _client_credentials(request, form)
    app = tenant.apps.get(client_id.lower())
    if app is None:
        text = (
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant.display_name}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant."
        )
        return aad_error(sim.clock, 400, "unauthorized_client", 700016, text)
    refusal = _authenticate(request, tenant, app, secret) or _check_scope(
        request, tenant, form["scope"]
    )
    if refusal is not None:
        return refusal
    return JSONResponse(_issue(request, tenant, app), headers={"Cache-Control": "no-store"})


ROUTES = [
    Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration),
    Route("/{tenant}/.well-known/openid-configuration", openid_configuration),
    Route("/{tenant}/discovery/v2.0/keys", jwks),
    Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
]
