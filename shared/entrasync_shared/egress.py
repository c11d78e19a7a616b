"""Which egress proxy, if any, carries the requests to a cloud's hosts.

Two sources, read by the processes that talk to Entra ID and Graph (config and syncer):

- the standard variables ``HTTPS_PROXY`` and ``NO_PROXY`` (or their lower-case spellings, which
  win, as in curl and Python's standard library); ``NO_PROXY`` lists hosts, domain suffixes or
  ``*`` that go direct;
- ``ENTRASYNC_CLOUD_PROXIES``, a JSON object naming a proxy per cloud, e.g.
  ``{"usgov": "http://proxy.gov.example:3128", "lab": "direct"}``. A cloud listed there uses
  that proxy (``direct``: none) for its login and Graph hosts, whatever ``HTTPS_PROXY`` and
  ``NO_PROXY`` say; the other clouds follow the standard variables.

A proxy is an ``http://`` URL (TLS to Entra ID and Graph stays end to end, through ``CONNECT``)
and may carry ``user:password@``: it is then a secret, and `redacted` is how it may be shown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings

DIRECT: Final = "direct"
"""A per-cloud proxy value meaning "no proxy for this cloud"."""

CLOUD_PROXIES_VARIABLE: Final = "ENTRASYNC_CLOUD_PROXIES"


def check_proxy_url(value: str) -> str:
    """`value` if it is `direct` or an ``http://host[:port]`` URL; else `ValueError` (whose
    message never repeats the value: it may hold a password). The proxy itself is spoken to in
    plain HTTP, as corporate proxies are: what it relays is TLS."""
    if value == DIRECT:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError("a proxy must be an http://host:port URL or 'direct'") from None
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("a proxy must be an http://host:port URL or 'direct'")
    return value


def _checked(value: str, where: str) -> str:
    try:
        return check_proxy_url(value)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None


def redacted(proxy: str) -> str:
    """`proxy` fit for a log line: ``user:password@`` becomes ``***@``."""
    if proxy == DIRECT:
        return proxy
    parts = urlsplit(proxy)
    if parts.username is None and parts.password is None:
        return proxy
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


class EgressProxies:
    """Decides the proxy of each request from the per-cloud choices and the environment."""

    def __init__(
        self,
        per_cloud: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self._per_cloud = {
            name: _checked(url, f"{CLOUD_PROXIES_VARIABLE}, cloud {name!r}")
            for name, url in (per_cloud or {}).items()
        }
        https = environ.get("https_proxy") or environ.get("HTTPS_PROXY") or ""
        self._https = _checked(https, "HTTPS_PROXY") if https else None
        self._no_proxy = environ.get("no_proxy") or environ.get("NO_PROXY") or ""

    def summary(self) -> str:
        """What this process does, for its start-up log line (passwords shown as ``***``)."""
        parts = [
            f"HTTPS_PROXY={redacted(self._https)} NO_PROXY={self._no_proxy or '-'}"
            if self._https
            else "no HTTPS_PROXY"
        ]
        parts += [f"{name}: {redacted(url)}" for name, url in sorted(self._per_cloud.items())]
        return "; ".join(parts)

    def for_url(self, cloud: str, url: str) -> str | None:
        """The proxy URL for a request to `url` of cloud `cloud`, or None to go direct."""
        chosen = self._per_cloud.get(cloud)
        if chosen is not None:
            return None if chosen == DIRECT else chosen
        if self._https is None:
            return None
        return None if _bypasses(self._no_proxy, url) else self._https


def _bypasses(no_proxy: str, url: str) -> bool:
    """Whether `NO_PROXY` names `url`'s host: `*`, the host, a parent domain (with or without a
    leading dot), each optionally with `:port`; as curl reads it, without CIDR ranges."""
    parts = urlsplit(url)
    host, port = (parts.hostname or "").lower(), parts.port or 443
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if entry == "*":
            return True
        name, colon, entry_port = entry.rpartition(":")
        if not (colon and entry_port.isdigit()):
            name, entry_port = entry, ""
        name = name.lstrip(".")
        if name and (host == name or host.endswith(f".{name}")):
            if not entry_port or int(entry_port) == port:
                return True
    return False


class EgressSettingsMixin(BaseSettings):
    """Adds `ENTRASYNC_CLOUD_PROXIES` to the settings of a service that calls Entra ID/Graph."""

    cloud_proxies: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices(CLOUD_PROXIES_VARIABLE),
        description="JSON object: cloud name -> proxy URL (http://host:port) or 'direct'; "
        "other clouds use HTTPS_PROXY/NO_PROXY",
    )

    @field_validator("cloud_proxies")
    @classmethod
    def _proxy_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for name, url in value.items():
            try:
                check_proxy_url(url)
            except ValueError as err:
                raise ValueError(f"cloud {name!r}: {err}") from None
        return value

    def egress_proxies(self) -> EgressProxies:
        """The proxies of this process: the per-cloud choices and the standard variables."""
        return EgressProxies(self.cloud_proxies)
