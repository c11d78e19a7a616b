import re

from entrasync_shared.messages import Credential
from entrasync_shared.natsutil import ensure_cursor_bucket
from entrasync_shared.subjects import Names, cursor_key
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from support.polling import eventually
from syncer_helpers import (
    PipelineWatcher,
    send_command,
    serve_credentials,
    simulator_credential,
    wait_until_empty,
)


async def test_a_garbled_cursor_is_replaced_by_a_full_resync(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tg"] = simulator_credential(sim, "tg")
    bucket = await ensure_cursor_bucket(nc.jetstream(), names)
    garbled = f'{{"delta_link": "{sim.graph_url}/v1.0/users/delta?$deltatoken=garbled"}}'
    await bucket.put(cursor_key("tg", "user"), garbled.encode())

    command = await send_command(nc, names, "tg", "delta", object_types=("user",))
    run = await watcher.run(command.run_id)

    result = run.result("user")
    assert (result.status, result.mode, result.reason, result.total) == (
        "Succeeded",
        "full",
        "resync",
        60,
    )
    stored = (await bucket.get(cursor_key("tg", "user"))).value or b""
    assert b"garbled" not in stored and b"$deltatoken=" in stored


async def test_a_tenant_deleted_meanwhile_ends_as_a_cancelled_run(
    syncer: None,
    nc: NatsClient,
    names: Names,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    command = await send_command(nc, names, "gone", "full")

    run = await watcher.run(command.run_id)

    assert run.started == [] and run.batches == []
    assert run.finished is not None and run.finished.status == "Cancelled"
    assert all("no longer exists" in (r.error or "") for r in run.finished.results)
    info = await nc.jetstream().consumer_info(
        names.commands_stream, names.consumer("syncer", "commands")
    )
    assert info.num_redelivered == 0
    await wait_until_empty(nc, names)


async def test_a_wrong_secret_fails_every_type_without_leaking_it(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    credentials: dict[str, Credential],
    watcher: PipelineWatcher,
) -> None:
    credentials["tw"] = simulator_credential(sim, "tw", secret="definitely-not-the-secret")
    raw: list[bytes] = []

    async def keep(msg: Msg) -> None:
        raw.append(msg.data)

    spy = await nc.subscribe(names.pipeline_all, cb=keep)
    command = await send_command(nc, names, "tw", "full")
    run = await watcher.run(command.run_id)
    await spy.unsubscribe()

    assert run.finished is not None and run.batches == []
    assert [r.status for r in run.finished.results] == ["Failed"] * 3
    assert all("AADSTS7000215" in (r.error or "") for r in run.finished.results)
    assert not any(b"definitely-not-the-secret" in data for data in raw)


async def test_a_malformed_command_is_parked_on_the_dead_letter_stream(
    syncer: None, nc: NatsClient, names: Names
) -> None:
    js = nc.jetstream()
    await js.publish(names.sync_command("tx"), b'{"tenant_id": "tx"}')

    await wait_until_empty(nc, names)

    parked = await js.get_last_msg(names.dead_letter_stream, names.dead_letter("syncer"))
    assert parked.data == b'{"tenant_id": "tx"}'
    assert parked.headers is not None
    assert parked.headers["Entrasync-Subject"] == names.sync_command("tx")
    assert "not a StartSync" in parked.headers["Entrasync-Reason"]


async def test_a_command_is_retried_while_config_does_not_answer(
    syncer: None,
    nc: NatsClient,
    names: Names,
    sim: SimulatorProcess,
    watcher: PipelineWatcher,
) -> None:
    command = await send_command(nc, names, "tl", "full", object_types=("device",))
    await eventually(
        lambda: nc.jetstream().consumer_info(
            names.commands_stream, names.consumer("syncer", "commands")
        ),
        "the command to be redelivered",
        10,
        accept=lambda info: info.num_redelivered >= 1,
    )

    late = await serve_credentials(nc, names, {"tl": simulator_credential(sim, "tl")})
    run = await watcher.run(command.run_id)
    await late.unsubscribe()

    assert run.finished is not None and run.finished.status == "Succeeded"
    # Later deliveries re-read Graph, so their batches get ids of their own.
    assert run.batches
    assert all(re.fullmatch(rf"{command.run_id}:device:\d+:a\d+", b.id) for b in run.batches)
    assert all(b.attempt > 1 for b in run.batches)
    assert run.finished.attempt == run.batches[0].attempt
    assert run.result("device").total == 10
    await wait_until_empty(nc, names)
