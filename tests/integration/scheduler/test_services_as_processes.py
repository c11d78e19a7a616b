from __future__ import annotations

from pathlib import Path

from entrasync_config.adapters.crypto import generate_key
from entrasync_devtools.infra import LocalInfra
from entrasync_shared.messages import Health
from entrasync_shared.natsutil import call
from entrasync_shared.subjects import Names
from nats.aio.client import Client as NatsClient
from scheduler_helpers import ServiceProcess, commands, create_tenant, start_sync
from support.polling import eventually


async def test_config_and_scheduler_run_as_processes_from_environment_settings(
    nc: NatsClient, names: Names, infra: LocalInfra, db_name: str, tmp_path: Path
) -> None:
    key = generate_key()
    common = {"ENTRASYNC_NATS_URL": infra.nats_url, "ENTRASYNC_PREFIX": names.prefix}
    config_env = {
        **common,
        "ENTRASYNC_MONGODB_URI": infra.mongodb_uri,
        "ENTRASYNC_CONFIG_DB": db_name,
        "ENTRASYNC_CONFIG_ENCRYPTION_KEY": key,
    }

    with (
        ServiceProcess("entrasync-scheduler", common, tmp_path / "scheduler.log") as scheduler,
        ServiceProcess("entrasync-config", config_env, tmp_path / "config.log") as config,
    ):
        await config.wait_for_line("entrasync-config ready")
        await scheduler.wait_for_line("entrasync-scheduler ready")
        tenant = await create_tenant(nc, names, "contoso.onmicrosoft.com")
        [msg] = await eventually(
            lambda: commands(nc, names, tenant.id), accept=lambda c: len(c) == 1
        )
        for service in ("config", "scheduler"):
            health: Health = await call(nc, names.api(service, "health"), None, Health)
            assert health.ok, health

        assert (config.stop(), scheduler.stop()) == (0, 0)

    assert start_sync(msg).mode == "full"
    for log in (config.output(), scheduler.output()):
        assert key not in log and infra.mongodb_uri not in log
