"""The console's request metrics: labelled by route template (never the path with its ids),
method and status, with latency; a path no route serves is `unmatched`. A plain FastAPI app
with the console's middleware, over httpx's ASGI transport (no server, no NATS)."""

from __future__ import annotations

import httpx
from entrasync_console.web.metrics import RequestMetrics
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY


def app() -> FastAPI:
    served = FastAPI()

    @served.get("/api/v1/tenants/{tenant_id}")
    async def tenant(tenant_id: str) -> dict[str, str]:
        if tenant_id == "missing":
            raise HTTPException(404, "no such tenant")
        return {"id": tenant_id}

    served.add_middleware(RequestMetrics)
    return served


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_count_by_route_template_method_and_status() -> None:
    route = "/api/v1/tenants/{tenant_id}"
    ok = {"route": route, "method": "GET", "status": "200"}
    missing = {"route": route, "method": "GET", "status": "404"}
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    latency = "entrasync_console_request_duration_seconds_count"
    before = [
        sample("entrasync_console_requests_total", **labels) for labels in (ok, missing, unmatched)
    ]
    timed = sample(latency, route=route, method="GET")

    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        assert (await client.get("/api/v1/tenants/t-1")).status_code == 200
        assert (await client.get("/api/v1/tenants/t-2")).status_code == 200
        assert (await client.get("/api/v1/tenants/missing")).status_code == 404
        assert (await client.get("/nowhere/t-3")).status_code == 404

    after = [
        sample("entrasync_console_requests_total", **labels) for labels in (ok, missing, unmatched)
    ]
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 1]
    assert sample(latency, route=route, method="GET") == timed + 3
    assert not any("t-1" in str(m.samples) for m in REGISTRY.collect())
