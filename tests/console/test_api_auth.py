"""Nothing but health answers without login; sessions, CSRF, API tokens and login throttling."""

from __future__ import annotations

import httpx
from console_helpers import PROXY, Session, log_in, login_form, post_login, unique
from entrasync_devtools.stack import ConsoleAccess
from support.polling import eventually_blocking


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


def assert_waits(answer: httpx.Response, at_most: int) -> int:
    assert answer.status_code == 429, answer.status_code
    assert "Too many failed logins" in answer.text
    wait = int(answer.headers["retry-after"])
    assert 1 <= wait <= at_most
    return wait


def test_failures_from_one_address_never_lock_the_admin_out_elsewhere(
    access: ConsoleAccess,
) -> None:
    # The test stack: 3 free failures, then waits of 2 s, 4 s, 8 s (ENTRASYNC_CONSOLE_LOGIN_*).
    admin, password = access.admin_user, access.admin_password
    with (
        from_address(access, "127.0.0.12") as attacker,
        from_address(access, "127.0.0.13") as other,
    ):
        for _ in range(3):
            assert post_login(attacker, admin, "guess").status_code == 401
        # A wait, not a lock: even the right password waits here, but only here.
        assert_waits(post_login(attacker, admin, password), at_most=2)
        assert post_login(attacker, unique("other").replace(" ", ""), "x").status_code == 401
        assert post_login(other, admin, password).status_code == 303


def test_each_further_failure_waits_longer(access: ConsoleAccess) -> None:
    intruder = unique("mallory").replace(" ", "")
    with from_address(access, "127.0.0.14") as attacker:
        for _ in range(3):
            assert post_login(attacker, intruder, "guess").status_code == 401
        assert_waits(post_login(attacker, intruder, "guess"), at_most=2)
        again = eventually_blocking(
            lambda: post_login(attacker, intruder, "guess"),
            "the wait to end",
            10,
            accept=lambda response: response.status_code != 429,
            interval=0.25,
        )
        assert again.status_code == 401
        assert assert_waits(post_login(attacker, intruder, "guess"), at_most=4) > 2


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(access: ConsoleAccess) -> None:
    intruder = unique("mallory").replace(" ", "")
    with from_address(access, "127.0.0.15") as attacker:
        for n in range(3):
            attacker.headers["x-forwarded-for"] = f"198.51.100.{n}"
            assert post_login(attacker, intruder, "guess").status_code == 401
        attacker.headers["x-forwarded-for"] = "198.51.100.99"
        assert_waits(post_login(attacker, intruder, "guess"), at_most=2)


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(access: ConsoleAccess) -> None:
    admin, password = access.admin_user, access.admin_password
    with from_address(access, PROXY) as proxy:
        # The proxy appends the peer it saw; what the client wrote itself comes first.
        for n in range(3):
            proxy.headers["x-forwarded-for"] = f"10.9.9.{n}, 203.0.113.7"
            assert post_login(proxy, admin, "guess").status_code == 401
        assert_waits(post_login(proxy, admin, password), at_most=2)
        proxy.headers["x-forwarded-for"] = "203.0.113.8"
        assert post_login(proxy, admin, password).status_code == 303


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
