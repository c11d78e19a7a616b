"""Helpers for the simulator tests: MSAL wiring, a delta-round reader, a webhook receiver."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import msal
import requests
from entrasync_sim.launcher import SimulatorProcess
from entrasync_sim.tls import client_ssl_context
from support.polling import eventually_blocking

# Shape of the per-module simulator the conftest starts (page size 7 < USERS forces paging).
USERS = 50
GROUPS = 6
DEVICES = 5
PAGE_SIZE = 7
MEMBER_SLICE = 10


def msal_session(ca_file: str) -> requests.Session:
    """A requests session trusting only the simulator CA (REQUESTS_CA_BUNDLE is ignored)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    return session


def msal_app(
    sim: SimulatorProcess,
    client_id: str,
    credential: str | dict[str, str],
    tenant_key: str,
    session: requests.Session,
) -> msal.ConfidentialClientApplication:
    """A fresh MSAL app (MSAL replays some errors, so tests never share one)."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{sim.authority_host}/{tenant_key}",
        instance_discovery=False,
        http_client=session,
    )


def acquire_graph_token(sim: SimulatorProcess, tenant: dict[str, str], tenant_key: str) -> str:
    """An access token for the simulator's Graph, via MSAL client credentials."""
    with msal_session(sim.ca_file) as session:
        app = msal_app(sim, tenant["client_id"], tenant["client_secret"], tenant_key, session)
        result = app.acquire_token_for_client([f"{sim.graph_url}/.default"])
    assert "access_token" in result, result
    return str(result["access_token"])


def graph_client(sim: SimulatorProcess, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=sim.graph_url,
        verify=client_ssl_context(sim.ca_file),
        trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
    )


@dataclass
class Round:
    """Everything one delta round returned."""

    pages: list[dict[str, Any]] = field(default_factory=list)
    delta_link: str = ""

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [entry for page in self.pages for entry in page["value"]]

    def by_id(self) -> dict[str, dict[str, Any]]:
        """Entries merged by id; `members@delta` slices are concatenated."""
        merged: dict[str, dict[str, Any]] = {}
        for entry in self.entries:
            known = merged.setdefault(entry["id"], {})
            slices = known.get("members@delta", []) + entry.get("members@delta", [])
            known.update(entry)
            if slices:
                known["members@delta"] = slices
        return merged


def run_round(client: httpx.Client, url: str, max_pages: int = 1000) -> Round:
    """Follow nextLinks from `url` until a deltaLink arrives."""
    result = Round()
    for _ in range(max_pages):
        response = client.get(url)
        assert response.status_code == 200, response.text
        page = response.json()
        result.pages.append(page)
        assert ("@odata.nextLink" in page) != ("@odata.deltaLink" in page), page
        if "@odata.deltaLink" in page:
            result.delta_link = page["@odata.deltaLink"]
            return result
        url = page["@odata.nextLink"]
    raise AssertionError("delta round did not end")


def latest_link(client: httpx.Client, kind: str, select: str) -> str:
    """A deltaLink from "now on" for `kind` with `$select`."""
    response = client.get(
        f"/v1.0/{kind}/delta", params={"$select": select, "$deltatoken": "latest"}
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["value"] == []
    return str(page["@odata.deltaLink"])


def member_changes(entry: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(added ids, removed ids) of one merged group entry."""
    changes = entry.get("members@delta", [])
    added = {m["id"] for m in changes if "@removed" not in m}
    removed = {m["id"] for m in changes if "@removed" in m}
    return added, removed


T = TypeVar("T")


def eventually(probe: Callable[[], T | None], what: str, within: float = 10.0) -> T:
    """Poll `probe` until it returns something other than None (or fail after `within` s)."""
    return eventually_blocking(probe, what, within, accept=_is_not_none, interval=0.02)


def _is_not_none(value: object) -> bool:
    return value is not None


@dataclass
class Receiver:
    """A local webhook endpoint: answers Graph's validation and records every POST."""

    url: str
    validate: bool = True
    # How notification POSTs are answered (validation is always answered at once); tests
    # change these while the receiver runs to simulate a failing or slow endpoint.
    status: int = 202
    stall: float = 0.0
    trickle: bool = False  # answer one byte every 0.3 s for 4.5 s
    posts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.posts)


@contextmanager
def webhook_receiver(validate: bool = True) -> Iterator[Receiver]:
    """`with webhook_receiver() as receiver:` serves http://127.0.0.1:<port>/hook."""
    receiver = Receiver(url="", validate=validate)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            query = parse_qs(urlsplit(self.path).query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if "validationToken" in query:
                token = query["validationToken"][0] if receiver.validate else "nope"
                self._answer(200, token.encode(), "text/plain")
                return
            with receiver.lock:
                receiver.posts.append({"path": self.path, "body": json.loads(raw or b"{}")})
                status, stall, trickle = receiver.status, receiver.stall, receiver.trickle
            if stall:
                time.sleep(stall)
            if trickle:
                with contextlib.suppress(ConnectionError):
                    self._trickle(status)
                return
            # A stalled answer may find the simulator gone (it timed out): nothing to tell.
            with contextlib.suppress(ConnectionError):
                self._answer(status, b"", "text/plain")

        def _trickle(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "15")
            self.end_headers()
            for _ in range(15):
                self.wfile.write(b".")
                self.wfile.flush()
                time.sleep(0.3)

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
