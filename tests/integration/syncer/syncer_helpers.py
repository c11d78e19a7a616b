"""Helpers for the syncer's integration tests: a stand-in for config's credential API, a
watcher of the pipeline stream, and ways to command runs and compare them with the truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from entrasync_shared.members import member_type
from entrasync_shared.messages import (
    CloudEndpoints,
    Credential,
    ObservationBatch,
    ObservedObject,
    StartSync,
    SyncFinished,
    SyncStarted,
    TenantRef,
    new_id,
)
from entrasync_shared.natsutil import ensure_cursor_bucket, failed, ok
from entrasync_shared.subjects import (
    CONTAINER_TYPES,
    FULL_LIST_TYPES,
    GRAPH_PATHS,
    Names,
    ObjectType,
    cursor_key,
)
from entrasync_sim.launcher import SimulatorProcess
from entrasync_syncer.domain import SELECTS
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import DeliverPolicy
from support.polling import eventually

SIM_KINDS: dict[ObjectType, str] = {
    object_type: path.rsplit("/", 1)[-1] for object_type, path in GRAPH_PATHS.items()
}
"""The simulator's collection (its truth's key) of each object type."""


def simulator_credential(
    sim: SimulatorProcess, tenant_id: str, secret: str | None = None
) -> Credential:
    """What config would hand out for the simulator's first tenant, addressed by domain."""
    tenant = sim.tenants[0]
    with open(sim.ca_file) as ca:
        ca_pem = ca.read()
    return Credential(
        tenant_id=tenant_id,
        tenant=tenant["domain"],
        client_id=tenant["client_id"],
        client_secret=secret or tenant["client_secret"],
        cloud=CloudEndpoints(
            name="sim",
            authority_host=sim.authority_host,
            graph_url=sim.graph_url,
            ca_pem=ca_pem,
        ),
        object_types=("user", "group", "device"),
    )


async def serve_credentials(
    nc: NatsClient, names: Names, credentials: dict[str, Credential]
) -> Subscription:
    """Answer config's `credential.get` from `credentials`; unknown tenants are not_found."""

    async def answer(msg: Msg) -> None:
        ref = TenantRef.model_validate_json(msg.data)
        found = credentials.get(ref.tenant_id)
        reply = ok(found) if found else failed("not_found", f"no tenant {ref.tenant_id}")
        await msg.respond(reply.model_dump_json().encode())

    return await nc.subscribe(names.api("config", "credential.get"), cb=answer)


async def send_command(
    nc: NatsClient, names: Names, tenant_id: str, mode: str, **extra: Any
) -> StartSync:
    command = StartSync(
        id=new_id(),
        run_id=new_id(),
        tenant_id=tenant_id,
        mode=mode,  # type: ignore[arg-type]
        reason=extra.pop("reason", "manual"),
        **extra,
    )
    await nc.jetstream().publish(
        names.sync_command(tenant_id),
        command.model_dump_json().encode(),
        headers={"Nats-Msg-Id": command.id},
    )
    return command


@dataclass
class Run:
    """What one run put on the pipeline stream."""

    started: list[SyncStarted] = field(default_factory=list)
    batches: list[ObservationBatch] = field(default_factory=list)
    finished: SyncFinished | None = None

    def of(self, object_type: ObjectType) -> list[ObservationBatch]:
        return sorted(
            (b for b in self.batches if b.object_type == object_type), key=lambda b: b.seq
        )

    def result(self, object_type: ObjectType) -> Any:
        assert self.finished is not None
        (found,) = [r for r in self.finished.results if r.object_type == object_type]
        return found


class PipelineWatcher:
    """Reads the test's pipeline stream from its start (an ordered JetStream consumer)."""

    def __init__(self, nc: NatsClient, names: Names) -> None:
        self._nc = nc
        self._names = names
        self._runs: dict[str, Run] = {}
        self._sub: Subscription | None = None

    async def __aenter__(self) -> PipelineWatcher:
        self._sub = await self._nc.jetstream().subscribe(
            self._names.pipeline_all,
            stream=self._names.pipeline_stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
            cb=self._on_message,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        kind = msg.subject.rsplit(".", 1)[-1]
        body = json.loads(msg.data)
        run = self._runs.setdefault(body["run_id"], Run())
        if kind == "started":
            run.started.append(SyncStarted.model_validate(body))
        elif kind == "finished":
            run.finished = SyncFinished.model_validate(body)
        else:
            run.batches.append(ObservationBatch.model_validate(body))

    async def run(self, run_id: str, within: float = 20.0) -> Run:
        """The run once its SyncFinished arrived; polls with a deadline."""

        async def finished() -> Run | None:
            found = self._runs.get(run_id)
            return found if found is not None and found.finished is not None else None

        return await eventually(finished, f"run {run_id} to finish", within)


def merged_objects(batches: list[ObservationBatch]) -> dict[str, dict[str, Any]]:
    """Objects by id: attributes merged, member additions and removals as sets, and `types`:
    each added member's type (`user`, `servicePrincipal`, ..., `unknown` when untyped)."""
    merged: dict[str, dict[str, Any]] = {}
    for batch in batches:
        for obj in batch.objects:
            known = merged.setdefault(
                obj.id, {"attributes": {}, "added": set(), "removed": set(), "types": {}}
            )
            known["attributes"].update(obj.attributes)
            known["added"].update(obj.members_added)
            known["removed"].update(obj.members_removed)
            known["types"].update(typed_additions(obj))
    return merged


def typed_additions(obj: ObservedObject) -> dict[str, str]:
    """Member id → type of an observation's added members (`unknown` when it has no types)."""
    codes = obj.members_added_types
    if len(codes) != len(obj.members_added):
        codes = "?" * len(obj.members_added)
    return {m: member_type(c) for m, c in zip(obj.members_added, codes, strict=True)}


def removals_of(batches: list[ObservationBatch]) -> dict[str, str]:
    return {r.id: r.reason for batch in batches for r in batch.removals}


TYPES: tuple[ObjectType, ...] = ("user", "group", "device")


def assert_matches_truth(
    run: Run, truth: dict[str, list[dict[str, Any]]], types: tuple[ObjectType, ...] = TYPES
) -> None:
    """The run published exactly the simulator's truth for `types`, in batches numbered 0..n."""
    for object_type in types:
        observed = merged_objects(run.of(object_type))
        expected = {obj["id"]: obj for obj in truth[SIM_KINDS[object_type]]}
        assert observed.keys() == expected.keys(), object_type
        for object_id, obj in observed.items():
            # Graph leaves null and never-set properties out (user-delta.md); a plain list
            # returns them as null (rbacapplication-list-roleeligibilityschedules.md's sample).
            found = {a: expected[object_id].get(a) for a in SELECTS[object_type]}
            listed = object_type in FULL_LIST_TYPES
            wanted = {a: value for a, value in found.items() if listed or value is not None}
            wanted.pop("id")
            if object_type in CONTAINER_TYPES:
                # Soft-deleted members keep their edges and Graph lists them in a full round
                # (microsoft-graph-docs#7115); the truth lists live members only.
                live = {o["id"] for objects in truth.values() for o in objects}
                assert obj["added"] & live == set(wanted.pop("members")), object_id
                types = {m: t for m, t in obj["types"].items() if m in live}
                assert types == expected[object_id]["memberTypes"], object_id
                assert obj["removed"] == set()
            assert obj["attributes"] == wanted, object_id
        result = run.result(object_type)
        assert (result.status, result.total) == ("Succeeded", len(expected)), result
        assert result.batches == len(run.of(object_type))
        assert [b.seq for b in run.of(object_type)] == list(range(result.batches))


async def stored_link(nc: NatsClient, names: Names, tenant_id: str, object_type: str) -> str:
    bucket = await ensure_cursor_bucket(nc.jetstream(), names)
    entry = await bucket.get(cursor_key(tenant_id, object_type))  # type: ignore[arg-type]
    value = json.loads(entry.value or b"")
    assert value["at"]
    return str(value["delta_link"])


async def commands_left(nc: NatsClient, names: Names) -> int:
    info = await nc.jetstream().stream_info(names.commands_stream)
    return int(info.state.messages)


async def wait_until_empty(nc: NatsClient, names: Names, within: float = 10.0) -> None:
    await eventually(
        lambda: commands_left(nc, names),
        "the command to be acknowledged",
        within,
        accept=lambda left: left == 0,
    )
