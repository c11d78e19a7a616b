"""App-only access tokens from MSAL (client credentials), one application per app and tenant.

MSAL is synchronous, so every call runs in a worker thread. A token endpoint that answers 5xx or
429, or cannot be reached, is retried with the same backoff budget as Graph calls (MSAL raises for
those); a refusal (4xx with an AADSTS code) is final and explained. Its HTTP goes through a
`requests.Session` that ignores the environment (`REQUESTS_CA_BUNDLE` would otherwise override
`verify`) and trusts either the cloud's own CA, written to a private file, or certifi's bundle;
its proxy is the one `EgressProxies` picks for the authority (`HTTPS_PROXY`, `NO_PROXY`,
`ENTRASYNC_CLOUD_PROXIES`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal  # type: ignore[import-untyped]  # MSAL ships neither types nor stubs
import requests
from entrasync_shared.aadsts import aadsts_code, token_advice
from entrasync_shared.egress import EgressProxies, redacted
from entrasync_shared.federation import FederatedTokenUnavailable, assertion_source
from entrasync_shared.messages import Credential

from entrasync_syncer.adapters import metrics
from entrasync_syncer.domain import RetryPolicy, parse_retry_after
from entrasync_syncer.ports import TokenError

log = logging.getLogger("entrasync.syncer.tokens")

_MAX_DESCRIPTION = 300
_MSAL_STATUS = re.compile(r"HTTP Error: (\d{3})")
_MSAL_THROTTLE = 5.0
"""MSAL replays a 429/5xx answer without asking again for its Retry-After, or 5 s without one."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _App:
    secret_digest: str
    app: msal.ConfidentialClientApplication
    session: requests.Session


def client_credential(credential: Credential) -> str | dict[str, Any]:
    """What MSAL takes as `client_credential`: the secret, or the certificate's key and
    thumbprint (MSAL signs the client assertion JWT itself), or for workload identity a reader
    of the projected token file (a `partial`: its repr, and so the app's digest, is stable)."""
    if credential.kind == "federated":
        try:
            return {"client_assertion": assertion_source(credential.federated_token_file)}
        except FederatedTokenUnavailable as err:
            raise TokenError(str(err)) from None
    if credential.kind == "certificate":
        key, thumbprint = credential.private_key_pem, credential.certificate_thumbprint
        if key is None or not thumbprint:
            raise TokenError("certificate credential without private key or thumbprint")
        cred = {"private_key": key.get_secret_value(), "thumbprint": thumbprint.replace(":", "")}
        if credential.certificate_pem:
            # Sends x5c, which subject-name/issuer (SNI) app registrations require.
            cred["public_certificate"] = credential.certificate_pem
        return cred
    if credential.client_secret is None:
        raise TokenError("secret credential without a client secret")
    return credential.client_secret.get_secret_value()


@dataclass(frozen=True)
class _Outage:
    """A token request that failed without an answer from Entra ID worth believing."""

    problem: str
    retry_after: float | None = None


class MsalTokenSource:
    """Implements `TokenSource`; keeps MSAL's in-memory token cache warm across runs."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        sleep: Any = asyncio.sleep,
        proxies: EgressProxies | None = None,
    ) -> None:
        self._proxies = proxies  # None: every authority direct
        self._apps: dict[tuple[str, str, str], _App] = {}
        self._lock = asyncio.Lock()
        self._ca_dir = Path(tempfile.mkdtemp(prefix="entrasync-syncer-ca-"))
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    async def token(self, credential: Credential, *, fresh: bool = False) -> str:
        app = await self._app(credential)
        scopes = [f"{credential.cloud.graph_url.rstrip('/')}/.default"]
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            try:
                result = await asyncio.to_thread(_acquire, app.app, scopes, fresh)
            except FederatedTokenUnavailable as err:  # raised by MSAL's call of the reader
                metrics.token(credential.kind, "refused")
                raise TokenError(str(err)) from None
            except Exception as exc:  # MSAL raises for 5xx and network errors, no common base
                outage = _outage(exc)
                wait = self._policy.delay(attempt, outage.retry_after)
                if outage.retry_after is None:  # sooner, MSAL would only replay the failure
                    wait = max(wait, _MSAL_THROTTLE)
                if self._policy.gives_up(attempt, waited, wait):
                    metrics.token(credential.kind, "unavailable")
                    raise TokenError(_gave_up(credential, outage, attempt, waited)) from None
                metrics.token(credential.kind, "retried")
                log.info("token %s; retry in %.1f s", outage.problem, wait)
                waited += wait
                await self._sleep(wait)
                continue
            token = result.get("access_token")
            if isinstance(token, str):
                metrics.token(credential.kind, "acquired")
                return token
            metrics.token(credential.kind, "refused")
            raise TokenError(_refusal(credential, result))

    def close(self) -> None:
        for app in self._apps.values():
            app.session.close()
        self._apps.clear()
        shutil.rmtree(self._ca_dir, ignore_errors=True)

    async def _app(self, credential: Credential) -> _App:
        authority = f"{credential.cloud.authority_host.rstrip('/')}/{credential.tenant}"
        ca_pem = credential.cloud.ca_pem or ""
        # One proxy for discovery and token requests: both go to the authority's host.
        proxy = self._proxies.for_url(credential.cloud.name, authority) if self._proxies else None
        key = (credential.client_id, authority, _digest(f"{ca_pem}\n{proxy or ''}"))
        secret = client_credential(credential)
        secret_digest = _digest(
            repr(sorted(secret.items())) if isinstance(secret, dict) else secret
        )
        async with self._lock:
            known = self._apps.get(key)
            if known is not None and known.secret_digest == secret_digest:
                return known
            if known is not None:
                known.session.close()  # the secret or certificate was rotated: start over
            session = self._session(ca_pem, proxy)
            try:
                app = await asyncio.to_thread(
                    msal.ConfidentialClientApplication,
                    credential.client_id,
                    client_credential=secret,
                    authority=authority,
                    instance_discovery=False,
                    http_client=session,
                )
            except Exception as exc:  # ValueError for 4xx discovery, others for 5xx/network
                session.close()
                raise TokenError(f"authority {authority} unusable: {_short(exc)}") from None
            self._apps[key] = _App(secret_digest, app, session)
            log.info(
                "MSAL application ready for client %s at %s%s",
                credential.client_id,
                authority,
                f" via proxy {redacted(proxy)}" if proxy else "",
            )
            return self._apps[key]

    def _session(self, ca_pem: str, proxy: str | None) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        if proxy:
            session.proxies = {"https": proxy}
        if ca_pem:
            ca_file = self._ca_dir / f"{_digest(ca_pem)}.pem"
            if not ca_file.exists():
                ca_file.write_text(ca_pem)
            session.verify = str(ca_file)
        return session


def _acquire(app: msal.ConfidentialClientApplication, scopes: list[str], fresh: bool) -> Any:
    if fresh:
        app.remove_tokens_for_client()
    return app.acquire_token_for_client(scopes)


def _outage(exc: Exception) -> _Outage:
    """What went wrong, from MSAL's exception: an HTTP status (with Retry-After) or no answer."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        headers = getattr(response, "headers", None) or {}
        return _Outage(
            f"endpoint answered HTTP {status}", parse_retry_after(headers.get("Retry-After"))
        )
    said = _MSAL_STATUS.search(str(exc))  # MSAL's own replay of a 429/5xx: "HTTP Error: 503"
    if said:
        return _Outage(f"endpoint answered HTTP {said.group(1)}")
    return _Outage(f"endpoint unreachable ({type(exc).__name__})")


def _gave_up(credential: Credential, outage: _Outage, attempts: int, waited: float) -> str:
    host = credential.cloud.authority_host
    return (
        f"token {outage.problem} after {attempts} attempts over {waited:.0f} s: check that "
        f"{host} is reachable from the syncer (network, proxy, firewall) and Entra ID's service "
        "health; the next run tries again"
    )


def _refusal(credential: Credential, result: dict[str, Any]) -> str:
    """`<error> <AADSTS code>: <what to do>` (or Entra's own first line when the code is new)."""
    description = "".join(str(result.get("error_description", "")).splitlines()[0:1])
    codes = result.get("error_codes")
    code = aadsts_code(description) or (f"AADSTS{codes[0]}" if codes else None)
    advice = token_advice(
        code,
        tenant=credential.tenant,
        cloud=credential.cloud.name,
        client_id=credential.client_id,
    )
    error = str(result.get("error", "unknown_error"))
    what = f"{error} {code}" if code else error
    return f"token refused ({what}): {(advice or description)[:_MAX_DESCRIPTION]}"


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:_MAX_DESCRIPTION]
