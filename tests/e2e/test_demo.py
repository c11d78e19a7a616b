"""`entrasync-demo` as a new user meets it: a ready line that tells the truth without secrets,
per-service NATS users, each change event shown once, and a Ctrl-C that stops everything at once.

Real: the demo runs as its own process in its own session, exactly as from a terminal, and
starts nats-server, mongod, the simulator and every service itself; the test changes the
simulated directory with the curl command the demo prints and signals the process group as a
terminal's Ctrl-C does.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import shutil
import signal
import socket
import stat
import subprocess
import termios
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from demo_helpers import DemoRun, descendants, still_there
from entrasync_devtools.demo import build_parser

pytestmark = pytest.mark.timeout(420)

READY = "entrasync demo ready: "
STOPPED = "entrasync demo stopped: "
# The keys the README documents; tenant_id is entrasync's id, entra_tenant_id the directory's.
DOCUMENTED_KEYS = {
    "nats_url",
    "mongodb_uri",
    "tenant_id",
    "entra_tenant_id",
    "tenants",
    "simulator",
    "first_sync",
    "workdir",
    "console_url",
    "receiver_url",
    "metrics_urls",
    "admin_user",
    "admin_password",
    "api_token",
    "nats_users_file",
}
SMALL = ["--users", "12", "--groups", "3", "--devices", "3", "--interval", "10"]
SERVICES = ("config", "scheduler", "syncer", "history", "receiver", "console")
# Users and groups are near real time in the demo: Graph's notification, a delta round, the event.
NOTIFIED_BOUND = 10.0
# The old feed acknowledged nothing: the server sent every event again after its 30 s ack wait.
REDELIVERY_WAIT = 32.0
STOP_BOUND = 5.0


@pytest.fixture
def demo_runs() -> Iterator[list[DemoRun]]:
    runs: list[DemoRun] = []
    yield runs
    for run in runs:
        run.close()


def private(path: str) -> bool:
    return stat.S_IMODE(Path(path).stat().st_mode) == 0o600


def started_workdir(run: DemoRun) -> Path:
    line = run.wait_for_line(lambda text: text.startswith("entrasync demo: starting in "), 30)
    return Path(line.split("starting in ", 1)[1].split(" ", 1)[0])


def event_lines(run: DemoRun) -> list[tuple[float, str]]:
    return [(at, line) for at, line in run.lines if line.startswith("event ")]


def check_ready_line(line: str, tenants: int) -> dict[str, Any]:
    ready = json.loads(line.removeprefix(READY))
    assert DOCUMENTED_KEYS <= set(ready)
    full = json.loads(Path(ready["simulator"]["ready_file"]).read_text())
    assert private(ready["simulator"]["ready_file"])
    assert private(ready["nats_users_file"])
    directories = full["tenants"]
    assert len(directories) == tenants
    # Nothing of the simulated apps' credentials is on the line, and it fits a screen or two.
    for directory in directories:
        assert directory["client_secret"] not in line
        assert directory["private_key_pem"][40:90] not in line
    assert "PRIVATE KEY" not in line and "CERTIFICATE" not in line
    assert len(line) < 3000
    # Ids say which system they belong to.
    assert ready["entra_tenant_id"] == directories[0]["tenant_id"]
    assert ready["tenant_id"] != ready["entra_tenant_id"]
    assert ready["tenants"][0]["tenant_id"] == ready["tenant_id"]
    assert [t["entra_tenant_id"] for t in ready["tenants"]] == [d["tenant_id"] for d in directories]
    assert ready["first_sync"]["status"] == "Succeeded"
    assert set(ready["metrics_urls"]) == set(SERVICES)
    for url in ready["metrics_urls"].values():
        assert "# TYPE entrasync_api_requests_total counter" in httpx.get(url, timeout=10).text
    return dict(ready)


def check_per_service_users(ready: dict[str, Any], run: DemoRun) -> None:
    """Each service connects as its own NATS user, and the server refuses anonymous clients."""
    users = json.loads(Path(ready["nats_users_file"]).read_text())
    assert {*SERVICES, "reader", "admin"} <= set(users)
    assert ready["nats_url"] == users["admin"]
    assert all(url.startswith(f"nats://{user}:") for user, url in users.items())
    seen = {}
    for pid in descendants(run.proc.pid):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        service = Path(command[1].decode()).name if len(command) > 1 else ""
        for item in environ:
            if item.startswith(b"ENTRASYNC_NATS_URL=") and service.startswith("entrasync-"):
                seen[service.removeprefix("entrasync-")] = item.split(b"=", 1)[1].decode()
    assert seen == {s: users[s] for s in SERVICES}
    host, port = users["admin"].rsplit("@", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as anonymous:
        stream = anonymous.makefile("rwb")
        assert stream.readline().startswith(b"INFO ")
        stream.write(b'CONNECT {"verbose": false}\r\nPING\r\n')
        stream.flush()
        assert stream.readline().startswith(b"-ERR 'Authorization Violation'")


def make_the_printed_change(run: DemoRun) -> str:
    """Run the demo's own "make a change" curl line; the new user's id."""
    hint = run.wait_for_line(lambda text: "make a change:" in text, 5)
    command = hint.split("make a change:", 1)[1].strip()
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    )
    return str(json.loads(done.stdout)["id"])


def stop_with_ctrl_c(run: DemoRun) -> tuple[float, dict[int, str]]:
    """SIGINT to the demo's process group, as a terminal sends it; (seconds, its processes)."""
    tree = descendants(run.proc.pid)
    started = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGINT)
    try:
        run.proc.wait(STOP_BOUND + 5)
    except subprocess.TimeoutExpired:
        pass
    return time.monotonic() - started, tree


def test_demo_ready_line_feed_once_and_ctrl_c_stops_everything(
    demo_runs: list[DemoRun],
) -> None:
    run = DemoRun(["--tenants", "3", *SMALL], env={"ENTRASYNC_LOG_FORMAT": "json"})
    demo_runs.append(run)
    workdir = started_workdir(run)

    line = run.wait_for_line(lambda text: text.startswith(READY), 300)
    ready = check_ready_line(line, tenants=3)
    for url in ready["metrics_urls"].values():  # a hint line each, to open or scrape
        run.wait_for_line(lambda text, url=url: "Prometheus metrics:" in text and url in text, 5)
    assert Path(ready["workdir"]) == workdir
    listed = httpx.get(
        f"{ready['console_url']}/api/v1/tenants",
        headers={"Authorization": f"Bearer {ready['api_token']}"},
        timeout=30,
    ).json()
    assert sorted(t["id"] for t in listed) == sorted(t["tenant_id"] for t in ready["tenants"])
    check_per_service_users(ready, run)

    changed_at = time.monotonic()
    user_id = make_the_printed_change(run)
    created = run.wait_for_line(lambda text: "user.created" in text and user_id in text, 90)
    seen_at = next(at for at, text in run.lines if text == created)
    # Not the next poll (an hour away for users): the simulator's notification to the receiver.
    assert seen_at - changed_at < NOTIFIED_BOUND
    receiver = httpx.get(ready["metrics_urls"]["receiver"], timeout=10).text
    assert 'entrasync_receiver_requests_total{outcome="accepted",route="notifications"}' in receiver
    # Long enough for the old feed's redelivery of both the first-sync events and this one.
    first_event_at = min(at for at, _ in event_lines(run))
    time.sleep(max(0.0, max(seen_at, first_event_at) + REDELIVERY_WAIT - time.monotonic()))
    events = [text for _, text in event_lines(run)]
    assert sum(user_id in text and "user.created" in text for text in events) == 1
    assert [e for e, n in Counter(events).items() if n > 1] == []
    assert len(events) > 3 * 12  # every directory's first sync: users created, at least

    before_stop = len(run.lines)
    # Open now: what the services log while stopping stays readable after the folder is gone.
    logs = {path.name: path.open("rb") for path in workdir.glob("*.log")}
    # Asked for JSON logs: every service's log is JSON lines naming it (issue 23.2).
    for service in SERVICES:
        lines = (workdir / f"{service}.log").read_text().splitlines()
        records = [json.loads(text) for text in lines if text.strip()]
        assert records and {r["service"] for r in records} == {f"entrasync-{service}"}, service
    for log in logs.values():
        log.seek(0, os.SEEK_END)
    elapsed, tree = stop_with_ctrl_c(run)
    assert run.proc.returncode == 0, run.text[-3000:]
    assert elapsed < STOP_BOUND
    assert still_there(tree) == []
    assert not workdir.exists()
    run.close()
    after = [text for _, text in run.lines[before_stop:] if not text.startswith("event ")]
    assert len(after) == 1 and after[0].startswith(STOPPED), after
    assert "Traceback" not in run.text
    # The services stopped before the NATS server they talk to: no reconnect errors.
    stopping = {name: log.read().decode(errors="replace") for name, log in logs.items()}
    for log in logs.values():
        log.close()
    assert set(stopping) == {f"{s}.log" for s in SERVICES}
    assert {n: t for n, t in stopping.items() if "Traceback" in t or "ERROR" in t} == {}


def test_a_second_ctrl_c_kills_at_once(demo_runs: list[DemoRun]) -> None:
    run = DemoRun(["--tenants", "1", *SMALL])
    demo_runs.append(run)
    workdir = started_workdir(run)
    run.wait_for_children(4, 120)  # worker, nats-server, mongod, simulator at least
    tree = descendants(run.proc.pid)
    os.killpg(run.proc.pid, signal.SIGINT)
    time.sleep(0.2)
    started = time.monotonic()
    os.killpg(run.proc.pid, signal.SIGINT)
    run.proc.wait(STOP_BOUND)
    assert time.monotonic() - started < 2.0
    assert run.proc.returncode == 0
    assert still_there(tree) == []
    assert not workdir.exists()


def _run_on_a_terminal(command: list[str], cwd: Path) -> tuple[int, str]:
    """`command` as the foreground job of a fresh pseudo-terminal; Ctrl-C is typed once the
    demo's processes run. Returns the exit code and everything the terminal showed."""
    master, slave = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    shown = b""
    typed = False
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every process of the terminal has gone
                    break
                shown += chunk
            if not typed and b"starting in" in shown and len(descendants(proc.pid)) > 6:
                os.write(master, b"\x03")
                typed = True
            if proc.poll() is not None and typed:
                break
        return proc.wait(10), shown.decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_ctrl_c_under_make_and_uv_on_a_terminal_exits_0_and_keep_keeps(tmp_path: Path) -> None:
    """`make demo` runs `exec uv run ... entrasync-demo`: a terminal's Ctrl-C reaches make, uv
    and the demo alike, and make dies of it ("Error", exit 130) unless the demo alone hears it."""
    uv = shutil.which("uv") or str(Path.home() / ".local/bin/uv")
    makefile = tmp_path / "Makefile"
    args = " ".join(["--tenants", "1", *SMALL, "--keep"])
    makefile.write_text(f"demo:\n\t@exec {uv} run --frozen --no-sync entrasync-demo {args}\n")
    repo = Path(__file__).resolve().parents[2]
    code, shown = _run_on_a_terminal(["make", "-f", str(makefile), "demo"], cwd=repo)
    assert code == 0, shown[-3000:]
    assert "make: ***" not in shown and "Traceback" not in shown
    stopped = [line for line in shown.splitlines() if STOPPED in line]
    assert len(stopped) == 1 and "(--keep)" in stopped[0], shown[-3000:]
    kept = Path(shown.split("starting in ", 1)[1].split(" ", 1)[0])
    try:
        assert (kept / "infra").is_dir()
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def test_two_simulated_directories_by_default() -> None:
    args = build_parser().parse_args([])
    assert (args.tenants, args.keep) == (2, False)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--tenants", "0"])
