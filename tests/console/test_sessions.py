"""Sessions end when their admin logs out or is removed, on every replica of the console.

Two extra console processes act as replicas of one deployment: the same NATS (and so the same
session bucket), the same session secret and the same admin accounts (`alice`). The stack's own
console shares the secret and the bucket but not the accounts: to it, alice was removed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from console_helpers import Session, log_in
from entrasync_console.core.auth import hash_password
from entrasync_devtools.infra import free_port
from entrasync_devtools.stack import ConsoleAccess, ServiceStack

ALICE = "alice"
PASSWORD = secrets.token_urlsafe(12)


def replica(stack: ServiceStack, access: ConsoleAccess, admins: str, workdir: Path) -> ServiceStack:
    own = ConsoleAccess(
        url=f"http://127.0.0.1:{free_port()}",
        admin_user=ALICE,
        admin_password=PASSWORD,
        api_token="es_" + secrets.token_urlsafe(32),
        session_secret=access.session_secret,
    )
    return ServiceStack(
        stack.nats_url,
        stack.mongodb_uri,
        workdir,
        prefix=stack.prefix,
        services=("console",),
        console=own,
        service_env={"console": {"ENTRASYNC_CONSOLE_ADMINS": admins}},
    )


@pytest.fixture(scope="module")
def replicas(
    console_stack: ServiceStack, access: ConsoleAccess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    admins = json.dumps({ALICE: hash_password(PASSWORD)})  # one Secret, mounted by both
    with (
        replica(console_stack, access, admins, tmp_path_factory.mktemp("replica-a")) as one,
        replica(console_stack, access, admins, tmp_path_factory.mktemp("replica-b")) as two,
    ):
        yield one.console_url, two.console_url


def me(url: str, session: Session) -> int:
    with httpx.Client(base_url=url) as http:
        return http.get("/api/v1/me", headers=session.headers(csrf=False)).status_code


def log_out(url: str, session: Session) -> None:
    with httpx.Client(base_url=url) as http:
        done = http.post(
            "/logout", data={"csrf_token": session.csrf}, headers=session.headers(csrf=False)
        )
    assert done.status_code == 303


def test_a_session_holds_on_every_replica(replicas: tuple[str, str]) -> None:
    one, two = replicas
    session = log_in(one, ALICE, PASSWORD)
    assert me(one, session) == me(two, session) == 200


def test_a_cookie_reused_after_logout_is_refused_everywhere(replicas: tuple[str, str]) -> None:
    one, two = replicas
    session = log_in(one, ALICE, PASSWORD)
    other = log_in(two, ALICE, PASSWORD)
    log_out(two, session)
    assert me(one, session) == me(two, session) == 401
    with httpx.Client(base_url=one, follow_redirects=False) as http:
        page = http.get("/integrations", headers=session.headers(csrf=False))
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert me(one, other) == 200  # only that session ended


def test_the_stack_consoles_own_logout_ends_its_session(access: ConsoleAccess) -> None:
    session = log_in(access.url, access.admin_user, access.admin_password)
    log_out(access.url, session)
    assert me(access.url, session) == 401


def test_a_removed_admins_session_is_refused(
    replicas: tuple[str, str], access: ConsoleAccess
) -> None:
    one, _ = replicas
    session = log_in(one, ALICE, PASSWORD)
    # Same secret and bucket, but this console's accounts hold no alice (any more).
    assert me(access.url, session) == 401


def test_a_changed_password_ends_the_admins_sessions(
    console_stack: ServiceStack,
    access: ConsoleAccess,
    replicas: tuple[str, str],
    tmp_path: Path,
) -> None:
    one, _ = replicas
    session = log_in(one, ALICE, PASSWORD)
    rehashed = json.dumps({ALICE: hash_password(PASSWORD + "-new")})
    with replica(console_stack, access, rehashed, tmp_path) as changed:
        assert me(changed.console_url, session) == 401
