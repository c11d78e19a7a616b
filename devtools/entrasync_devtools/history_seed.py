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
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, Names

RETRIED = 2
"""Attempts of every tenth seeded run (the one whose devices failed)."""


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
            retried = n % 10 == 9
            attempt = RETRIED if retried else 1
            last_start = started + timedelta(seconds=20) if retried else started
            common: dict[str, Any] = {
                "run_id": run_id,
                "tenant_id": tenant_id,
                "mode": "delta",
                "reason": "schedule",
            }
            messages: list[tuple[str, SyncStarted | SyncFinished]] = [
                ("started", SyncStarted(**common, object_types=DEFAULT_OBJECT_TYPES, at=started)),
            ]
            if retried:
                again = SyncStarted(
                    **common, object_types=DEFAULT_OBJECT_TYPES, at=last_start, attempt=attempt
                )
                messages.append(("started:a2", again))
            messages += [
                (
                    "finished",
                    SyncFinished(
                        **common,
                        started_at=last_start,
                        finished_at=started + timedelta(seconds=30),
                        attempt=attempt,
                        results=tuple(
                            TypeResult(
                                object_type=t,
                                mode="delta",
                                reason="schedule",
                                status="Failed" if retried and t == "device" else "Succeeded",
                                error="throttled by Graph" if retried and t == "device" else None,
                                total=n + 1,
                            )
                            for t in DEFAULT_OBJECT_TYPES
                        ),
                    ),
                ),
            ]
            for kind, message in messages:
                await js.publish(
                    names.run_event(tenant_id, kind.split(":")[0]),  # type: ignore[arg-type]
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

    Hourly, ending an hour ago; every tenth run's devices Failed ("throttled by Graph"), and
    that run was retried: its syncer died and a second attempt started 20 s in (`RETRIED`).
    """
    return asyncio.run(_publish_runs(nats_url, names, tenant_id, runs))
