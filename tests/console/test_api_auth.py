"""Nothing but health answers without login; sessions, CSRF, API tokens and login throttling."""

from __future__ import annotations

import time

import httpx
from console_helpers import Session, log_in, login_form, post_login, unique
from entrasync_devtools.stack import ConsoleAccess


def test_only_the_health_endpoints_answer_without_login(anonymous: httpx.Client) -> None:
    assert anonymous.get("/livez").json() == {"status": "alive"}
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"nats": True}
    for method, path in [
        ("GET", "/api/v1/tenants"),
        ("GET", "/api/v1/credential-profiles"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/api/v1/tenants"),
        ("DELETE", "/api/v1/tenants/abc"),
        ("GET", "/api/v1/tenants/abc/history.csv"),
    ]:
        refused = anonymous.request(method, path)
        assert refused.status_code == 401, (method, path)
        assert refused.json()["code"] == "unauthenticated"
    for page in ("/", "/integrations", "/tenants/abc", "/credential-profiles"):
        answer = anonymous.get(page)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_a_script_authenticates_with_its_api_token(api: httpx.Client) -> None:
    assert api.get("/api/v1/me").json() == {"name": "demo", "via": "token"}


def test_an_unknown_api_token_is_refused(anonymous: httpx.Client) -> None:
    refused = anonymous.get("/api/v1/tenants", headers={"authorization": "Bearer es_guessed"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["code"] == "unauthenticated"


def test_logging_in_sets_a_secure_http_only_session_cookie(access: ConsoleAccess) -> None:
    session = log_in(access.url, access.admin_user, access.admin_password)
    cookie = session.set_cookie.lower()
    assert "entrasync_session=" in cookie
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    with httpx.Client(base_url=access.url) as http:
        me = http.get("/api/v1/me", headers=session.headers(csrf=False))
    assert me.json() == {"name": access.admin_user, "via": "session"}


def test_a_tampered_session_cookie_is_no_session(access: ConsoleAccess) -> None:
    session = log_in(access.url, access.admin_user, access.admin_password)
    payload, mac = session.cookies["entrasync_session"].split(".")
    forged = Session({"entrasync_session": f"{payload[:-2]}xx.{mac}"}, session.csrf, "")
    with httpx.Client(base_url=access.url) as http:
        assert http.get("/api/v1/me", headers=forged.headers()).status_code == 401


def test_session_requests_that_change_something_need_the_csrf_token(
    access: ConsoleAccess,
) -> None:
    session = log_in(access.url, access.admin_user, access.admin_password)
    body = {"name": unique("csrf"), "client_id": "not-a-guid", "client_secret": "s"}
    with httpx.Client(base_url=access.url, follow_redirects=False) as http:
        without = http.post(
            "/api/v1/credential-profiles", json=body, headers=session.headers(csrf=False)
        )
        assert without.status_code == 403 and without.json()["code"] == "csrf"
        wrong = {**session.headers(csrf=False), "x-csrf-token": "nope"}
        assert http.post("/api/v1/credential-profiles", json=body, headers=wrong).status_code == 403
        with_token = http.post("/api/v1/credential-profiles", json=body, headers=session.headers())
        assert with_token.status_code == 422  # past the CSRF check: the client id is refused
        form = http.post(
            "/integrations",
            data={"type": "entra-id-sync", "tenant": "x.example.com"},
            headers=session.headers(csrf=False),
        )
        assert form.status_code == 403
        logout = http.post(
            "/logout", data={"csrf_token": session.csrf}, headers=session.headers(csrf=False)
        )
        assert logout.status_code == 303
        assert 'entrasync_session=""' in ";".join(logout.headers.get_list("set-cookie"))


def test_a_login_form_needs_its_own_token(anonymous: httpx.Client, access: ConsoleAccess) -> None:
    cookies, _ = login_form(anonymous)
    forged = post_login(anonymous, access.admin_user, access.admin_password, (cookies, "forged"))
    assert forged.status_code == 403
    assert "entrasync_session" not in ";".join(forged.headers.get_list("set-cookie"))


def from_address(access: ConsoleAccess, address: str) -> httpx.Client:
    """A client connecting from another loopback address (the throttle counts per address)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=access.url, transport=transport, follow_redirects=False)


def test_failed_logins_are_rate_limited_per_user_and_address(access: ConsoleAccess) -> None:
    # The test stack allows 3 failures per 4 s window (ENTRASYNC_CONSOLE_LOGIN_*).
    intruder = unique("mallory").replace(" ", "")
    with from_address(access, "127.0.0.2") as attacker, from_address(access, "127.0.0.3") as other:
        for _ in range(3):
            assert post_login(attacker, intruder, "guess").status_code == 401
        locked = post_login(attacker, intruder, "guess")
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) >= 1
        assert "Too many failed logins" in locked.text
        # The user is locked from anywhere; the address is locked for every user.
        assert post_login(other, intruder, "guess").status_code == 429
        assert post_login(attacker, access.admin_user, access.admin_password).status_code == 429
        assert post_login(other, access.admin_user, access.admin_password).status_code == 303
        deadline = time.monotonic() + 10
        while (
            done := post_login(attacker, access.admin_user, access.admin_password)
        ).status_code == 429:
            assert time.monotonic() < deadline, "the lockout did not end"
            time.sleep(0.5)
        assert done.status_code == 303


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(access: ConsoleAccess) -> None:
    with from_address(access, "127.0.0.4") as http:
        wrong = post_login(http, access.admin_user, "not the password")
        unknown = post_login(http, unique("nobody").replace(" ", ""), "whatever")
    assert wrong.status_code == unknown.status_code == 401
    for answer in (wrong, unknown):
        assert "Wrong user name or password." in answer.text


def test_login_only_redirects_within_the_console(
    anonymous: httpx.Client, access: ConsoleAccess
) -> None:
    cookies, csrf = login_form(anonymous)
    header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = {
        "username": access.admin_user,
        "password": access.admin_password,
        "csrf_token": csrf,
        "next": "//evil.example/phish",
    }
    done = anonymous.post("/login", data=body, headers={"cookie": header})
    assert done.status_code == 303 and done.headers["location"] == "/integrations"
