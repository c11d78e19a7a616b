"""Malformed request bodies: each is a 4xx in the API's JSON error format (a page for forms),
never a 500, and the console logs no traceback for any of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from console_helpers import CLOUD, unique
from entrasync_devtools.stack import ConsoleAccess, ServiceStack

# The stack runs with the default limit (ENTRASYNC_CONSOLE_MAX_BODY_BYTES).
LIMIT = 256 * 1024
DEEP = b"[" * 1200 + b"]" * 1200
MALFORMED = [
    DEEP,
    b'{"name": ' + DEEP + b"}",
    b'{"name": "x",',
    b"\xff\xfe not utf-8",
    b'{"name": NaN}',
    b'{"interval_seconds": ' + b"9" * 5000 + b"}",
    b'{"name": "\\ud800", "client_id": "x", "client_secret": "s"}',
    b"[]",
    b"null",
    b'"text"',
]


@pytest.fixture(scope="module")
def routes(access: ConsoleAccess, sim_profile: dict[str, Any]) -> list[tuple[str, str]]:
    """Every route with a JSON body, on a disabled tenant nobody syncs."""
    body = {
        "tenant": f"bodies{unique('x')[-8:]}.example.com",
        "cloud": CLOUD,
        "profile_id": sim_profile["id"],
        "enabled": False,
    }
    headers = {"authorization": f"Bearer {access.api_token}"}
    with httpx.Client(base_url=access.url, headers=headers, timeout=30) as api:
        tenant = api.post("/api/v1/tenants", json=body).json()
    return [
        ("POST", "/api/v1/credential-profiles"),
        ("PATCH", f"/api/v1/credential-profiles/{sim_profile['id']}"),
        ("POST", "/api/v1/tenants"),
        ("PATCH", f"/api/v1/tenants/{tenant['id']}"),
        ("POST", "/api/v1/tenants/test-connection"),
        ("POST", f"/api/v1/tenants/{tenant['id']}/test-connection"),
    ]


@pytest.fixture
def console_log(console_stack: ServiceStack) -> Iterator[None]:
    """Fails the test if the console logs a traceback while it runs."""
    path = console_stack.log_file("console")
    start = path.stat().st_size
    yield
    with path.open("rb") as log:
        log.seek(start)
        written = log.read().decode(errors="replace")
    assert "Traceback" not in written, written[-4000:]


def assert_json_error(answer: httpx.Response, status: int, what: object) -> None:
    assert answer.status_code == status, (what, answer.status_code, answer.text[:300])
    error = answer.json()
    assert set(error) == {"code", "message", "field"}, error
    assert error["message"], error


@pytest.mark.usefixtures("console_log")
def test_malformed_json_bodies_are_422_on_every_route(
    api: httpx.Client, routes: list[tuple[str, str]]
) -> None:
    for method, path in routes:
        for body in MALFORMED:
            answer = api.request(
                method, path, content=body, headers={"content-type": "application/json"}
            )
            assert_json_error(answer, 422, (method, path, body[:40]))
            assert answer.json()["code"] == "validation"


@pytest.mark.usefixtures("console_log")
def test_deep_nesting_is_refused_saying_so(api: httpx.Client) -> None:
    answer = api.post("/api/v1/tenants", content=DEEP)
    assert_json_error(answer, 422, "deep")
    assert answer.json()["message"] == "the body nests too deeply"


@pytest.mark.usefixtures("console_log")
def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(
    api: httpx.Client, routes: list[tuple[str, str]]
) -> None:
    big = b'{"name": "' + b"x" * LIMIT + b'"}'

    def streamed() -> Iterator[bytes]:  # chunked: no Content-Length to go by
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    for method, path in routes:
        declared = api.request(method, path, content=big)
        assert_json_error(declared, 413, (method, path))
        assert declared.json()["code"] == "too_large"
        chunked = api.request(method, path, content=streamed())
        assert_json_error(chunked, 413, (method, path, "chunked"))
    just_fits = api.post("/api/v1/credential-profiles", content=b" " * (LIMIT - 2) + b"{}")
    assert_json_error(just_fits, 422, "within the limit")


@pytest.mark.usefixtures("console_log")
def test_a_form_over_the_limit_is_a_413_page(anonymous: httpx.Client) -> None:
    form = {"username": "admin", "password": "x" * LIMIT}
    refused = anonymous.post("/login", data=form)
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "larger than" in refused.text


@pytest.mark.usefixtures("console_log")
def test_malformed_forms_are_4xx_pages(anonymous: httpx.Client) -> None:
    cases = [
        ("multipart/form-data; boundary=xyz", b"--xyz\r\ngarbage without headers"),
        ("multipart/form-data", b"no boundary at all"),
        ("application/x-www-form-urlencoded", b"username=%zz%ff&password=\xff\xfe&=&&x"),
        ("application/x-www-form-urlencoded", b"a=" + b"[" * 1200),
    ]
    for content_type, body in cases:
        answer = anonymous.post("/login", content=body, headers={"content-type": content_type})
        assert 400 <= answer.status_code < 500, (content_type, body[:30], answer.status_code)
        assert answer.headers["content-type"].startswith("text/html")
