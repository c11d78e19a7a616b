"""Each service, run as an operator runs it, answers the Kubernetes probes: /livez while alive,
/readyz 200 once its NATS (and MongoDB) connections are up."""

from __future__ import annotations

from pathlib import Path

import httpx
from entrasync_devtools.infra import LocalInfra, free_port
from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import ServiceStack

SERVICES = ("config", "scheduler", "syncer", "history", "receiver")


async def test_every_service_answers_liveness_and_readiness(
    infra: LocalInfra, tmp_path: Path
) -> None:
    ports = {service: free_port() for service in SERVICES}
    env = {
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
        "ENTRASYNC_CONFIG_DB": f"health_config_{tmp_path.name}",
        "ENTRASYNC_HISTORY_DB": f"health_history_{tmp_path.name}",
    }
    per_service = {s: {"ENTRASYNC_HEALTH_PORT": str(port)} for s, port in ports.items()}
    async with ServiceStack(
        infra.nats_url,
        infra.mongodb_uri,
        tmp_path,
        env,
        prefix="health" + tmp_path.name[-6:].replace("_", ""),
        services=SERVICES,
        service_env=per_service,
    ):
        async with httpx.AsyncClient() as client:
            for service, port in ports.items():
                live = await client.get(f"http://127.0.0.1:{port}/livez")
                ready = await client.get(f"http://127.0.0.1:{port}/readyz")
                assert live.status_code == 200, service
                assert ready.status_code == 200, (service, ready.text)
                assert ready.json()["checks"]["nats"] is True
