"""Microsoft's national clouds plus operator-defined custom clouds.

A custom cloud (a sovereign endpoint, an egress proxy, or the Graph simulator) is declared in
settings as JSON, e.g. ``ENTRASYNC_CLOUDS='{"lab": {"authority_host": "https://login.lab",
"graph_url": "https://graph.lab", "ca_file": "/etc/lab-ca.pem"}}'``. Nothing else in the
services knows what sits behind a cloud name. A forward (``CONNECT``) proxy on the way to a cloud
is not a cloud: see `entrasync_shared.egress`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict, field_validator

from entrasync_shared.messages import CloudEndpoints

NATIONAL_CLOUDS: Final[dict[str, CloudEndpoints]] = {
    "global": CloudEndpoints(
        name="global",
        authority_host="https://login.microsoftonline.com",
        graph_url="https://graph.microsoft.com",
    ),
    "usgov": CloudEndpoints(
        name="usgov",
        authority_host="https://login.microsoftonline.us",
        graph_url="https://graph.microsoft.us",
    ),
    "usgov-dod": CloudEndpoints(
        name="usgov-dod",
        authority_host="https://login.microsoftonline.us",
        graph_url="https://dod-graph.microsoft.us",
    ),
    "china": CloudEndpoints(
        name="china",
        authority_host="https://login.partner.microsoftonline.cn",
        graph_url="https://microsoftgraph.chinacloudapi.cn",
    ),
}


class CustomCloud(BaseModel):
    """One operator-defined cloud as written in settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    authority_host: str
    graph_url: str
    ca_file: Path | None = None

    @field_validator("authority_host", "graph_url")
    @classmethod
    def _https_only(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (MSAL refuses anything else)")
        return value.rstrip("/")


class UnknownCloud(LookupError):
    """Raised for a cloud name that is neither national nor configured."""


class CloudRegistry:
    """Resolves a cloud name to its endpoints."""

    def __init__(self, custom: dict[str, CustomCloud] | None = None) -> None:
        custom = custom or {}
        clash = sorted(set(custom) & set(NATIONAL_CLOUDS))
        if clash:
            raise ValueError(f"custom clouds may not redefine national clouds: {clash}")
        self._custom = custom

    def names(self) -> list[str]:
        return [*NATIONAL_CLOUDS, *sorted(self._custom)]

    def __contains__(self, name: object) -> bool:
        return name in NATIONAL_CLOUDS or name in self._custom

    def resolve(self, name: str) -> CloudEndpoints:
        """Endpoints of `name`; a custom cloud's CA file is read now so callers get the PEM."""
        if name in NATIONAL_CLOUDS:
            return NATIONAL_CLOUDS[name]
        cloud = self._custom.get(name)
        if cloud is None:
            known = ", ".join(self.names())
            raise UnknownCloud(f"unknown cloud {name!r}; known clouds: {known}")
        ca_pem = cloud.ca_file.read_text() if cloud.ca_file else None
        return CloudEndpoints(
            name=name,
            authority_host=cloud.authority_host,
            graph_url=cloud.graph_url,
            ca_pem=ca_pem,
        )
