"""Near real time in the console: the Tenant Configuration checkbox turns it on, the tenant page
and `entrasync-ctl tenants subscriptions` show the tenant's Graph subscriptions and their state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from console_helpers import eventually, log_in
from entrasync_devtools.stack import ConsoleAccess, ServiceStack


def ctl_json(stack: ServiceStack, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    env.update(ENTRASYNC_NATS_URL=stack.nats_url, ENTRASYNC_PREFIX=stack.prefix)
    command = [str(Path(sys.executable).parent / "entrasync-ctl"), "--json", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_checkbox_turns_near_real_time_on_and_the_page_shows_the_subscriptions(
    access: ConsoleAccess,
    api: httpx.Client,
    console_stack: ServiceStack,
    synced_tenant: dict[str, Any],
) -> None:
    path = f"/tenants/{synced_tenant['id']}"
    current = api.get(f"/api/v1{path}").json()
    session = log_in(access.url, access.admin_user, access.admin_password)
    form = {
        "csrf_token": session.csrf,
        "version": str(current["version"]),
        "profile_id": current["profile_id"],
        "enabled": "on",
        "near_real_time": "on",
    }
    with httpx.Client(base_url=access.url, follow_redirects=False, timeout=30) as http:
        saved = http.post(path, data=form, headers=session.headers(csrf=False))
        assert saved.status_code == 303, saved.text[:500]
        try:
            assert api.get(f"/api/v1{path}").json()["near_real_time"] is True

            def shown() -> str | None:
                page = http.get(path, headers=session.headers(csrf=False)).text
                return page if page.count("<td>active</td>") == 2 else None

            page = eventually(shown, "both subscriptions active on the tenant page")
            assert 'id="near_real_time"' in page and "<td>users</td>" in page
            listed = ctl_json(console_stack, "tenants", "subscriptions", synced_tenant["id"])
            assert sorted((s["resource"], s["state"]) for s in listed) == [
                ("groups", "active"),
                ("users", "active"),
            ]
        finally:
            version = api.get(f"/api/v1{path}").json()["version"]
            off = api.patch(f"/api/v1{path}", json={"version": version, "near_real_time": False})
            assert off.status_code == 200, off.text
