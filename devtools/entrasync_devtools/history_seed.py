"""Seed Sync History through the real pipeline: publish runs exactly as a syncer would.

Used by the console's API and browser tests to get enough history rows for paging without
running dozens of real syncs.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from entrasync_shared.messages import SyncFinished, SyncStarted, TypeResult
from entrasync_shared.natsutil import connect
from entrasync_shared.subjects import OBJECT_TYPES, Names


async def _publish_runs(nats_url: str, names: Names, tenant_id: str, runs: int) -> list[str]:
    nc = await connect(nats_url)
    js = nc.jetstream()
    # Recent runs: history hides rows past its retention period.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=runs + 1)
    run_ids = []
    try:
        for n in range(runs):
            run_id = uuid.uuid4().hex
            started = base + timedelta(hours=n)
            common: dict[str, Any] = {
                "run_id": run_id,
                "tenant_id": tenant_id,
                "mode": "delta",
                "reason": "schedule",
            }
            messages: list[tuple[str, SyncStarted | SyncFinished]] = [
                ("started", SyncStarted(**common, object_types=OBJECT_TYPES, at=started)),
                (
                    "finished",
                    SyncFinished(
                        **common,
                        started_at=started,
                        finished_at=started + timedelta(seconds=30),
                        results=tuple(
                            TypeResult(
                                object_type=t,
                                mode="delta",
                                reason="schedule",
                                status="Failed" if n % 10 == 9 and t == "device" else "Succeeded",
                                error="throttled by Graph"
                                if n % 10 == 9 and t == "device"
                                else None,
                                total=n + 1,
                            )
                            for t in OBJECT_TYPES
                        ),
                    ),
                ),
            ]
            for kind, message in messages:
                await js.publish(
                    names.run_event(tenant_id, kind),  # type: ignore[arg-type]
                    message.model_dump_json().encode(),
                    stream=names.pipeline_stream,
                    headers={"Nats-Msg-Id": f"{run_id}:{kind}"},
                )
            run_ids.append(run_id)
    finally:
        await nc.close()
    return run_ids


def seed_history(nats_url: str, names: Names, tenant_id: str, runs: int) -> list[str]:
    """Publish `runs` finished runs of the tenant as a syncer would (one row per object type).

    Hourly, ending an hour ago; every tenth run's devices Failed ("throttled by Graph").
    """
    return asyncio.run(_publish_runs(nats_url, names, tenant_id, runs))
