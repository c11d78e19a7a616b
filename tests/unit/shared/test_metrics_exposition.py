"""The kit's metrics without NATS: `/metrics` on the health port runs the samplers first (a
failing or hanging one does not fail the scrape), and publishes are labelled by catalog flow,
never by subject (subjects carry tenant ids)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from entrasync_shared.health import HealthServer
from entrasync_shared.kit import metrics
from entrasync_shared.subjects import Names
from prometheus_client import Gauge

SAMPLED = Gauge("entrasync_test_sampled", "A gauge set by a test's sampler.")


async def get_metrics() -> httpx.Response:
    server = HealthServer(0, {}, host="127.0.0.1")
    await server.start()
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            return await client.get(f"http://127.0.0.1:{server.port}/metrics")
    finally:
        await server.stop()


async def test_metrics_are_served_on_the_health_port_after_the_samplers_ran(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics, "SCRAPE_SAMPLE_TIMEOUT", 0.2)

    async def sampler() -> None:
        SAMPLED.set(42)

    async def broken() -> None:
        raise ConnectionError("NATS is gone")

    async def hanging() -> None:
        await asyncio.sleep(60)

    for key, each in (("test:broken", broken), ("test:hanging", hanging), ("test:ok", sampler)):
        metrics.on_scrape(key, each)
    try:
        response = await get_metrics()
    finally:
        for key in ("test:broken", "test:hanging", "test:ok"):
            metrics._samplers.pop(key)
    assert response.status_code == 200
    assert response.headers["content-type"] == metrics.CONTENT_TYPE
    assert "entrasync_test_sampled 42.0" in response.text
    assert "# TYPE entrasync_api_requests_total counter" in response.text


def test_a_published_subject_is_named_by_its_catalog_flow() -> None:
    names = Names("p1")
    assert metrics.flow_of(names, names.sync_command("tenant-1")) == "startSync"
    assert metrics.flow_of(names, names.observed("tenant-1", "group")) == "observed"
    assert metrics.flow_of(names, names.directory_event("t", "user", "created")) == (
        "directory_created"
    )
    assert metrics.flow_of(names, names.dead_letter("history")) == "deadLetter"
    assert metrics.flow_of(names, "_INBOX.abc.def") is None
    assert metrics.flow_of(Names("other"), names.sync_command("tenant-1")) is None
