"""Per-service NATS users: each service's real flows work with its own credentials, and what a
service has no business doing is refused by the server — reading another user's replies
included (each user has its own inbox prefix). Real nats-server with the generated config,
real services, MongoDB and the Graph simulator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from entrasync_devtools.infra import (
    LocalInfra,
    Violation,
    find_nats_server,
    free_port,
    nats_violations,
)
from entrasync_devtools.keys import new_encryption_key
from entrasync_devtools.stack import ServiceStack, SimulatorCloud
from entrasync_shared.admin import declare
from entrasync_shared.messages import (
    CredentialProfile,
    CredentialProfileCreate,
    Tenant,
    TenantCreate,
    TenantRef,
)
from entrasync_shared.natsutil import (
    ApiCallError,
    call,
    connect,
    subscriptions_in_place,
)
from entrasync_shared.permissions import (
    ALL_USERS,
    password_variable,
    render_nats_config_with_env_passwords,
)
from entrasync_shared.subjects import Names, inbox_prefix
from entrasync_sim.launcher import SimulatorProcess
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats_probe import names_refused, refused

pytestmark = pytest.mark.timeout(180)
NAMES = Names("perm")


@pytest.fixture(scope="module")
def secure_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalInfra]:
    workdir = tmp_path_factory.mktemp("secure-nats")
    with LocalInfra(mongo=False, use_env=False, secure=NAMES, workdir=workdir) as running:
        yield running


async def violations(url: str, action: str) -> list[str]:
    """Connect as `url`'s user, run `action`, and collect the server's permission errors."""
    errors: list[str] = []

    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    nc = await connect(url, error_cb=on_error, max_reconnect_attempts=0)
    try:
        if action == "publish-config-event":
            await nc.publish(NAMES.tenant_event("created"), b"{}")
        elif action == "request-credential":
            with pytest.raises(ApiCallError):
                await call(
                    nc,
                    NAMES.api("config", "credential.get"),
                    TenantRef(tenant_id="x"),
                    object,
                    timeout=1,
                )
        await nc.flush()
        for _ in range(40):
            if errors:
                break
            await asyncio.sleep(0.05)
    finally:
        await nc.close()
    return errors


async def test_nobody_connects_without_credentials(secure_nats: LocalInfra) -> None:
    host, port = secure_nats.user_url("admin").split("@")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        assert (await reader.readline()).startswith(b"INFO ")
        writer.write(b'CONNECT {"verbose": false}\r\nPING\r\n')
        await writer.drain()
        answer = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.startswith(b"-ERR 'Authorization Violation'"), answer


async def test_a_syncer_may_not_publish_config_events(secure_nats: LocalInfra) -> None:
    errors = await violations(secure_nats.user_url("syncer"), "publish-config-event")
    assert any("permissions violation" in e.lower() for e in errors), errors


async def test_the_console_may_not_read_credentials(secure_nats: LocalInfra) -> None:
    errors = await violations(secure_nats.user_url("console"), "request-credential")
    assert any("permissions violation" in e.lower() for e in errors), errors


OTHER_USERS = ("config", "scheduler", "history", "console", "reader")
EAVESDROP = ("_INBOX.>", f"{inbox_prefix('syncer')}.>")  # every inbox; the syncer's own


async def eavesdrop(url: str, received: list[Msg]) -> tuple[object, list[str]]:
    """Connect as `url`'s user and try to read every inbox and the syncer's; returns the
    connection and the server's errors (its refusals)."""
    errors: list[str] = []

    async def on_error(err: Exception) -> None:
        errors.append(str(err))

    async def on_msg(msg: Msg) -> None:
        received.append(msg)

    nc = await connect(url, error_cb=on_error, max_reconnect_attempts=0)
    for subject in EAVESDROP:
        await nc.subscribe(subject, cb=on_msg)
    await subscriptions_in_place(nc)  # else a spy not yet listening proves nothing
    return nc, errors


async def test_a_user_may_read_no_inbox_but_its_own(secure_nats: LocalInfra) -> None:
    for user in OTHER_USERS:
        errors = await refused(secure_nats.user_url(user), subscribe=EAVESDROP)
        assert names_refused(errors, EAVESDROP) == list(EAVESDROP), (user, errors)
    own = [f"{inbox_prefix('syncer')}.x.>"]
    assert await refused(secure_nats.user_url("syncer"), subscribe=own) == []


async def test_no_other_user_reads_the_credentials_a_syncer_is_sent(
    secure_nats: LocalInfra,
) -> None:
    secret = b'{"ok": true, "result": {"client_secret": "canary-secret"}}'
    admin = await connect(secure_nats.user_url("admin"))
    syncer = await connect(secure_nats.user_url("syncer"))
    received: list[Msg] = []
    eavesdroppers = [await eavesdrop(secure_nats.user_url(u), received) for u in OTHER_USERS]
    try:

        async def answer_like_config(msg: Msg) -> None:
            await msg.respond(secret)

        # Stands in for config (admin may do anything): answers credential.get like it does.
        await admin.subscribe(NAMES.api("config", "credential.get"), cb=answer_like_config)
        await subscriptions_in_place(admin)  # flush() alone may PONG before the SUB is held
        answer = await syncer.request(NAMES.api("config", "credential.get"), b"{}", timeout=5)
        assert answer.data == secret
        for nc, _ in eavesdroppers:
            await nc.flush()  # whatever the server routed to it before the answer has arrived
        assert [m.data for m in received] == []
        for (_, errors), user in zip(eavesdroppers, OTHER_USERS, strict=True):
            assert names_refused(errors, EAVESDROP) == list(EAVESDROP), (user, errors)
    finally:
        for nc, _ in eavesdroppers:
            await nc.close()  # type: ignore[attr-defined]
        await syncer.close()
        await admin.close()


def violations_since(log: Path, offset: int) -> list[Violation]:
    return nats_violations(log.read_text()[offset:])


async def test_every_service_runs_its_real_flows_with_its_own_user(
    secure_nats: LocalInfra, infra: LocalInfra, tmp_path: Path
) -> None:
    await declare(secure_nats.user_url("admin"), NAMES)  # as the deploy's Job does
    server_log = secure_nats.workdir / "nats-server.log"
    log_offset = len(server_log.read_text())
    received: list[Msg] = []
    spy, _ = await eavesdrop(secure_nats.user_url("console"), received)
    with SimulatorProcess(users=20, groups=3, devices=4, page_size=10) as sim:
        cloud = SimulatorCloud("lab", sim.authority_host, sim.graph_url, sim.ca_file)
        env = {
            "ENTRASYNC_CLOUDS": cloud.as_setting(),
            "ENTRASYNC_CONFIG_ENCRYPTION_KEY": new_encryption_key(),
            "ENTRASYNC_CONFIG_DB": f"perm_config_{tmp_path.name}",
            "ENTRASYNC_HISTORY_DB": f"perm_history_{tmp_path.name}",
            "ENTRASYNC_SCHEDULER_JITTER_SECONDS": "0",
        }
        per_service = {
            service: {"ENTRASYNC_NATS_URL": secure_nats.user_url(service)}
            for service in ("config", "scheduler", "syncer", "history", "receiver")
        }
        console_url = secure_nats.user_url("console")
        async with ServiceStack(
            console_url,
            infra.mongodb_uri,
            tmp_path,
            env,
            prefix=NAMES.prefix,
            service_env=per_service,
        ):
            app = sim.tenants[0]
            console = await connect(console_url)
            profile = await call(
                console,
                NAMES.api("config", "profile.create"),
                CredentialProfileCreate(
                    name="perm", client_id=app["client_id"], client_secret=app["client_secret"]
                ),
                CredentialProfile,
            )
            tenant = await call(
                console,
                NAMES.api("config", "tenant.create"),
                TenantCreate(tenant=app["domain"], cloud="lab", profile_id=profile.id),
                Tenant,
            )
            await console.close()
            reader = await connect(secure_nats.user_url("reader"))
            sub = await reader.jetstream().subscribe(
                NAMES.sync_recorded(tenant.id),
                stream=NAMES.events_stream,
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
            )
            recorded = json.loads((await sub.next_msg(timeout=60)).data)["data"]
            await reader.close()
    await spy.flush()
    await spy.close()
    assert (recorded["mode"], recorded["status"]) == ("full", "Succeeded")
    assert [m.data for m in received] == []  # the syncer's credential.get answers included
    logged = violations_since(server_log, log_offset)
    spied = [v for v in logged if v.user == "console" and v.subject in EAVESDROP]
    assert {v.subject for v in spied} == set(EAVESDROP)  # the log is read right: the spy's show
    assert [v for v in logged if v not in spied] == []


async def test_the_committed_style_config_reads_passwords_from_the_environment(
    tmp_path: Path,
) -> None:
    port, monitor = free_port(), free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        render_nats_config_with_env_passwords(
            NAMES, port=port, http_port=monitor, jetstream={"store_dir": str(tmp_path / "js")}
        )
    )
    env = {password_variable(user): f"pw-{user}" for user in ALL_USERS}
    server = await asyncio.create_subprocess_exec(
        str(find_nats_server()), "-c", str(conf), "-a", "127.0.0.1",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                _, probe = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
            else:
                probe.close()
                await probe.wait_closed()
                break
        nc = await connect(f"nats://config:pw-config@127.0.0.1:{port}")
        assert nc.is_connected
        await nc.close()
    finally:
        server.terminate()
        await server.wait()
