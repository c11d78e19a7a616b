import httpx
from entrasync_shared.health import HealthServer


async def ok() -> bool:
    return True


async def broken() -> bool:
    raise ConnectionError("mongod is gone")


async def test_liveness_answers_while_readiness_follows_its_checks() -> None:
    server = HealthServer(0, {"nats": ok, "mongodb": broken}, host="127.0.0.1")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            live = await client.get("/livez")
            ready = await client.get("/readyz")
            missing = await client.get("/nope")
    finally:
        await server.stop()
    assert live.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"nats": True, "mongodb": False}
    assert missing.status_code == 404


async def test_readiness_is_200_when_every_check_passes() -> None:
    server = HealthServer(0, {"nats": ok}, host="127.0.0.1")
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            assert (await client.get("/readyz")).json() == {
                "status": "ready",
                "checks": {"nats": True},
            }
    finally:
        await server.stop()
