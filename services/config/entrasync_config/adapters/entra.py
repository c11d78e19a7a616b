"""Entra ID and Microsoft Graph over HTTPS for connection tests (httpx, and MSAL for tokens).

Each test uses fresh clients: MSAL replays a token endpoint's 400 for a minute from its HTTP
cache, and a test must see the tenant as it is now. MSAL is synchronous, so it runs in a worker
thread, over a `requests.Session` that ignores the environment (`REQUESTS_CA_BUNDLE` would
override `verify`) and trusts the cloud's own CA when it has one. Each request goes through the
proxy `EgressProxies` picks for its host (`HTTPS_PROXY`, `NO_PROXY`, `ENTRASYNC_CLOUD_PROXIES`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import ssl
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import msal  # type: ignore[import-untyped]  # MSAL ships neither types nor stubs
import requests
from entrasync_shared.egress import EgressProxies
from entrasync_shared.federation import FederatedTokenUnavailable, assertion_source
from entrasync_shared.messages import CloudEndpoints

from entrasync_config.domain import ClientCredential, ProbeFailure

_TRACE = re.compile(r"\s*(Trace ID|Correlation ID|Timestamp):.*$", re.DOTALL)
_GUID = re.compile(r"[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE)


def _first_sentence(text: str) -> str:
    return _TRACE.sub("", text.strip().splitlines()[0] if text.strip() else "")[:300]


def _aad_failure(body: Any, status: int | None) -> ProbeFailure:
    """An OAuth error body (`error`, `error_codes`, `error_description`) as a failure."""
    if not isinstance(body, dict):
        return ProbeFailure(f"http_{status}", status=status)
    codes = body.get("error_codes") or []
    code = f"AADSTS{codes[0]}" if codes else str(body.get("error") or f"http_{status}")
    return ProbeFailure(code, _first_sentence(str(body.get("error_description", ""))), status)


def _graph_failure(response: httpx.Response) -> ProbeFailure:
    try:
        error = response.json().get("error", {})
        code, message = str(error.get("code")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        code, message = f"http_{response.status_code}", ""
    return ProbeFailure(code, _first_sentence(message), response.status_code)


class _TimedSession(requests.Session):
    """A session whose every request has a timeout (MSAL sets none with a custom client)."""

    def __init__(self, timeout: float, verify: str | bool, proxy: str | None) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify
        if proxy:
            self.proxies = {"https": proxy}
        self._timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class HttpEntraProbe:
    """Implements `EntraProbe` with httpx (discovery, Graph) and MSAL (token); `proxies`
    None: every request direct."""

    def __init__(self, proxies: EgressProxies | None = None) -> None:
        self._proxies = proxies
        self._ca_dir = Path(tempfile.mkdtemp(prefix="entrasync-config-ca-"))

    def close(self) -> None:
        shutil.rmtree(self._ca_dir, ignore_errors=True)

    def _ca_file(self, cloud: CloudEndpoints) -> str | bool:
        if not cloud.ca_pem:
            return True
        path = self._ca_dir / f"{hashlib.sha256(cloud.ca_pem.encode()).hexdigest()}.pem"
        if not path.exists():
            path.write_text(cloud.ca_pem)
        return str(path)

    def _proxy(self, cloud: CloudEndpoints, url: str) -> str | None:
        return self._proxies.for_url(cloud.name, url) if self._proxies else None

    def _http(self, cloud: CloudEndpoints, url: str, timeout: float) -> httpx.AsyncClient:
        verify: ssl.SSLContext | bool = True
        if cloud.ca_pem:
            verify = ssl.create_default_context(cadata=cloud.ca_pem)
        proxy = self._proxy(cloud, url)
        return httpx.AsyncClient(verify=verify, trust_env=False, timeout=timeout, proxy=proxy)

    async def discover(self, cloud: CloudEndpoints, tenant: str, timeout: float) -> str:
        url = f"{cloud.authority_host}/{quote(tenant)}/v2.0/.well-known/openid-configuration"
        async with self._http(cloud, url, timeout) as http:
            response = await _send(http, url, proxied=self._proxy(cloud, url) is not None)
        try:
            body = response.json()
        except ValueError:
            raise ProbeFailure(
                f"http_{response.status_code}", status=response.status_code
            ) from None
        if response.status_code != 200:
            raise _aad_failure(body, response.status_code)
        issuer = str(body.get("issuer") or body.get("token_endpoint") or "")
        segments = [s for s in urlsplit(issuer).path.split("/") if s]
        if not segments or not _GUID.fullmatch(segments[0]):
            raise ProbeFailure("bad_discovery", "the OpenID configuration names no tenant id")
        return segments[0].lower()

    async def token(
        self, cloud: CloudEndpoints, tenant: str, credential: ClientCredential, timeout: float
    ) -> str:
        verify = self._ca_file(cloud)
        proxy = self._proxy(cloud, cloud.authority_host)
        return await asyncio.to_thread(_acquire, cloud, tenant, credential, timeout, verify, proxy)

    async def graph_get(
        self, cloud: CloudEndpoints, path: str, token: str, timeout: float
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        async with self._http(cloud, cloud.graph_url, timeout) as http:
            proxied = self._proxy(cloud, cloud.graph_url) is not None
            response = await _send(http, f"{cloud.graph_url}{path}", headers, proxied=proxied)
        if response.status_code != 200:
            raise _graph_failure(response)
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            raise ProbeFailure("bad_response", "Graph answered with something not JSON") from None
        return body


async def _send(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str] | None = None,
    *,
    proxied: bool = False,
) -> httpx.Response:
    try:
        return await http.get(url, headers=headers)
    except httpx.TimeoutException:
        raise ProbeFailure("timeout") from None
    except (httpx.ConnectError, httpx.ProxyError) as err:
        raise ProbeFailure(_connection_code(str(err), proxied), type(err).__name__) from None
    except httpx.HTTPError as err:
        raise ProbeFailure("network_error", type(err).__name__) from None


def _connection_code(text: str, proxied: bool) -> str:
    """`tls_error` when the server's certificate is not trusted, else `proxy_error` through a
    proxy (unreachable, or refusing the tunnel: a wrong password, a host it may not reach),
    else `network_error`."""
    if "CERTIFICATE" in text.upper():
        return "tls_error"
    return "proxy_error" if proxied else "network_error"


def _client_credential(credential: ClientCredential) -> str | dict[str, Any]:
    if credential.federated:
        return {"client_assertion": assertion_source(credential.token_file)}
    if credential.private_key_pem:
        return {
            "private_key": credential.private_key_pem,
            "thumbprint": credential.thumbprint or "",
            "public_certificate": credential.certificate_pem or "",
        }
    return credential.secret or ""


def _acquire(
    cloud: CloudEndpoints,
    tenant: str,
    credential: ClientCredential,
    timeout: float,
    verify: str | bool,
    proxy: str | None,
) -> str:
    session = _TimedSession(timeout, verify, proxy)
    try:
        app = msal.ConfidentialClientApplication(
            credential.client_id,
            client_credential=_client_credential(credential),
            authority=f"{cloud.authority_host}/{tenant}",
            instance_discovery=False,
            http_client=session,
        )
        result = app.acquire_token_for_client([f"{cloud.graph_url}/.default"])
    except FederatedTokenUnavailable as err:
        raise ProbeFailure("federated_token_unavailable", str(err)) from None
    except requests.Timeout:
        raise ProbeFailure("timeout") from None
    except requests.ConnectionError as err:  # SSLError included: a reset mid-handshake is one
        code = _connection_code(str(err), proxy is not None)
        raise ProbeFailure(code, type(err).__name__) from None
    except ValueError as err:
        # MSAL: a 4xx from the authority's discovery, or a credential it cannot use. Only the
        # first line: never anything that could echo key material.
        raise ProbeFailure("invalid_authority_or_credential", _first_sentence(str(err))) from None
    except Exception as err:  # MsalServiceError (5xx) and friends share no base class
        raise ProbeFailure("token_service_error", type(err).__name__) from None
    finally:
        session.close()
    token = result.get("access_token") if isinstance(result, dict) else None
    if isinstance(token, str):
        return token
    raise _aad_failure(result, None)
