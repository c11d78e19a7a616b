"""Small helpers shared by the benchmark's processes (not a package: run from bench/)."""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import asdict, dataclass
from typing import Any

import httpx

# Every type the bench tenant syncs (issue 20): the ceilings read the same rounds as entrasync.
from entrasync_shared.subjects import OBJECT_TYPES as OBJECT_TYPES


@dataclass(frozen=True)
class Target:
    """Where a benchmark process reads Graph: one simulator tenant and its app."""

    graph_url: str
    authority_host: str
    ca_file: str
    tenant: str
    client_id: str
    client_secret: str

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, text: str) -> Target:
        return cls(**json.loads(text))

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def peak_rss_mb(pid: int | str = "self") -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def rss_mb(pid: int | str = "self") -> float:
    """The process's resident set size now (VmRSS), in MiB; 0 once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time the process has used so far (its threads included)."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) may hold spaces: count the fields after its ")".
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client_credentials_token(client: httpx.AsyncClient, target: Target) -> str:
    """One app-only token straight from the token endpoint (no MSAL, no cache)."""
    response = await client.post(
        f"{target.authority_host.rstrip('/')}/{target.tenant}/oauth2/v2.0/token",
        data={
            "client_id": target.client_id,
            "client_secret": target.client_secret,
            "scope": f"{target.graph_url.rstrip('/')}/.default",
            "grant_type": "client_credentials",
        },
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def report(result: dict[str, Any]) -> None:
    """The last stdout line of a benchmark subprocess: its result, with its own peak RSS."""
    print(json.dumps({**result, "peak_rss_mb": round(peak_rss_mb(), 1), "pid": os.getpid()}))
