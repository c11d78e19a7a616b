"""Entra ID side: OpenID discovery and the client-credentials token endpoint."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from entrasync_sim.credentials import (
    ASSERTION_TYPE,
    AssertionRefused,
    assertion_header,
    check_assertion,
)
from entrasync_sim.errors import aad_error
from entrasync_sim.federation import check_federated, looks_federated, unverified_claims
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
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
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
    request: Request, tenant: Tenant, app: AppRegistration, form: dict[str, str]
) -> Response | None:
    """Check the secret, or the client assertion (certificate-signed or federated), as Entra
    does."""
    clock = _sim(request).clock
    assertion = form.get("client_assertion")
    if assertion is not None:
        return _check_assertion(request, tenant, app, form, assertion)
    _, secret = _client_credentials(request, form)
    if secret is None:
        text = (
            "The request body must contain the following parameter: 'client_assertion' or "
            "'client_secret'."
        )
        return aad_error(clock, 401, "invalid_client", 7000218, text)
    if app.client_secret is None or secret != app.client_secret:
        text = (
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{app.client_id}'."
        )
        return aad_error(clock, 401, "invalid_client", 7000215, text)
    if app.secret_expires_at is not None and app.secret_expires_at <= clock.now():
        text = (
            f"The provided client secret keys for app '{app.client_id}' are expired. Visit the "
            "Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
            "consider using certificate credentials for added security: "
            "https://aka.ms/certCreds."
        )
        return aad_error(clock, 401, "invalid_client", 7000222, text)
    return None


def _token_audiences(request: Request, tenant: Tenant) -> set[str]:
    base = _base(request)
    keys = [tenant.tenant_id, *tenant.domains]
    return {f"{base}/{key}/oauth2/v2.0/token" for key in keys} | {
        f"{base}/{key}/oauth2/token" for key in keys
    }


def _check_assertion(
    request: Request,
    tenant: Tenant,
    app: AppRegistration,
    form: dict[str, str],
    assertion: str,
) -> Response | None:
    sim = _sim(request)
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        text = "The provided value for the input parameter 'client_assertion_type' is not valid."
        return aad_error(sim.clock, 400, "invalid_request", 50027, text)
    try:
        header = assertion_header(assertion)
        if looks_federated(unverified_claims(assertion), header, app.client_id):
            # Signed by the workload's platform with its own (real) clock, like a certificate's.
            check_federated(assertion, app.federated, sim.issuers, int(time.time()))
            return None
        return _check_certificate(request, tenant, app, assertion, header)
    except AssertionRefused as refused:
        return aad_error(sim.clock, refused.status, refused.error, refused.code, refused.text)


def _check_certificate(
    request: Request,
    tenant: Tenant,
    app: AppRegistration,
    assertion: str,
    header: dict[str, Any],
) -> Response | None:
    """A certificate-signed assertion; AssertionRefused for what `check_assertion` refuses."""
    certificate = app.certificate
    if certificate is None or not certificate.matches(header):
        text = (
            "The certificate with identifier used to sign the client assertion is not "
            f"registered on application. [Reason - The key was not found., Thumbprint of "
            f"key used by client: '{header.get('x5t', header.get('x5t#S256', ''))}']"
        )
        return aad_error(_sim(request).clock, 401, "invalid_client", 700027, text)
    check_assertion(
        assertion,
        certificate,
        app.client_id,
        _token_audiences(request, tenant),
        # The client signs with its own (real) clock, which tests cannot move.
        int(time.time()),
    )
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
    lifetime = sim.settings.token_lifetime
    claims = {
        "aud": _base(request),
        "iss": f"https://sts.windows.net/{tenant.tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "tid": tenant.tenant_id,
        "appid": app.client_id,
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, app.client_id)),
        "idtyp": "app",
        "roles": list(app.permissions),
        "uti": uuid.uuid4().hex,
        "ver": "1.0",
    }
    token = jwt.encode(claims, sim.signing_key, algorithm="HS256")
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
    client_id, _ = _client_credentials(request, form)
    app = tenant.apps.get(client_id.lower())
    if app is None:
        text = (
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{tenant.display_name}'. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant."
        )
        return aad_error(sim.clock, 400, "unauthorized_client", 700016, text)
    refusal = _authenticate(request, tenant, app, form) or _check_scope(
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
