"""The privileged-access view with history answering (issue 20.5): a user added to the
role-assignable group that holds Global Administrator shows, through the REST API, the tenant
page's Privileged access tab and `entrasync-ctl privileged`, as an effective holder with the path
"Global Administrator ← Tier0 Admins ← <user>", and as a role gained in the role changes read
from the events stream.

A simulated directory of its own (a handful of objects), synced as users, groups, service
principals and directory roles through the whole stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from console_helpers import CLOUD, eventually, log_in, unique, wait_for_first_sync
from entrasync_devtools.stack import ConsoleAccess, ServiceStack
from entrasync_sim.control_client import SimulatorControl
from entrasync_sim.launcher import SimulatorProcess
from support.console_stack import api_client

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
TYPES = ["user", "group", "servicePrincipal", "directoryRole"]


def register(api: httpx.Client, directory: dict[str, Any]) -> dict[str, Any]:
    profile = {
        "name": unique("privileged app"),
        "client_id": directory["client_id"],
        "client_secret": directory["client_secret"],
    }
    made = api.post("/api/v1/credential-profiles", json=profile)
    assert made.status_code == 201, made.text
    body = {
        "tenant": directory["domain"],
        "cloud": CLOUD,
        "profile_id": made.json()["id"],
        "object_types": TYPES,
        "interval_seconds": 3600,
    }
    created = api.post("/api/v1/tenants", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def ctl(stack: ServiceStack, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    env.update(ENTRASYNC_NATS_URL=stack.nats_url, ENTRASYNC_PREFIX=stack.prefix)
    command = [str(Path(sys.executable).parent / "entrasync-ctl"), "--json", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_user_joining_the_group_that_holds_global_administrator_shows_with_its_path(
    access: ConsoleAccess, console_sim: SimulatorProcess, console_stack: ServiceStack
) -> None:
    with SimulatorControl(console_sim.control_url, console_sim.ca_file) as control:
        directory = control.add_tenant(
            users=6, groups=2, devices=0, service_principals=1, applications=0, contacts=0,
            administrative_units=0,
        )  # fmt: skip
        sim = directory["tenant_id"]
        roles = control.truth(sim, "directoryRole")
        ga = next(r for r in roles if r["roleTemplateId"] == GLOBAL_ADMINISTRATOR)
        tier0 = control.create(
            sim,
            "groups",
            {"displayName": "Tier0 Admins", "isAssignableToRole": True, "securityEnabled": True},
        )["id"]
        control.change_members(sim, ga["id"], add=[tier0])
        user = control.create(sim, "users", {"displayName": "Alice Tier0"})  # in no role yet
        with api_client(access) as api:
            tenant = register(api, directory)
            wait_for_first_sync(api, tenant["id"])
            control.change_members(sim, tier0, add=[user["id"]])
            assert api.post(f"/api/v1/tenants/{tenant['id']}/sync").status_code == 202
            path = f"{ga['displayName']} ← Tier0 Admins ← {user['displayName']}"

            def gained() -> list[dict[str, Any]] | None:
                found = api.get(f"/api/v1/tenants/{tenant['id']}/privileged/changes")
                assert found.status_code == 200, found.text
                mine = [c for c in found.json()["items"] if c["principal_id"] == user["id"]]
                # The first sync's role members are no change: only this gain is one.
                return mine or None

            (change,) = eventually(gained, "the user's Global Administrator gain")
            held = api.get(
                f"/api/v1/tenants/{tenant['id']}/privileged", params={"search": user["id"]}
            )
            effective = effective_answers(api, tenant["id"], ga["id"], user["id"])
    assert (change["change"], change["path_text"], change["direct"]) == ("added", path, False)
    assert change["role_id"] == ga["id"] and change["path"] == [ga["id"], tier0]
    (line,) = [m for m in held.json()["members"] if m["role_id"] == ga["id"]]
    assert (line["path_text"], line["direct"]) == (path, False)
    assert_effective_answers(effective, path, ga["id"], tier0, user["id"])

    session = log_in(access.url, access.admin_user, access.admin_password)
    with httpx.Client(base_url=access.url) as browser:
        page = browser.get(
            f"/tenants/{tenant['id']}",
            params={"tab": "privileged", "search": user["displayName"]},
            headers=session.headers(csrf=False),
        )
    assert page.status_code == 200 and 'aria-current="page">Privileged access</a>' in page.text
    assert page.text.count(path) == 2  # a holder now, and a role gained in the changes

    cli = json.loads(
        ctl(console_stack, "privileged", tenant["id"], "--changes", "--search", "Tier0")
    )
    assert path in [m["path_text"] for m in cli["access"]["members"]]
    assert path in [c["path_text"] for c in cli["changes"]["items"]]
    # Of the user events, --privileged keeps those about a role's holders.
    everyone = json.loads(ctl(console_stack, "privileged", tenant["id"]))
    holders = {m["member_id"] for m in everyone["members"]}
    options = ("--tenant", tenant["id"], "--type", "user", "--from-start", "--count", "3")
    tail = ctl(console_stack, "events", "tail", *options, "--privileged")
    assert {json.loads(line)["subject"] for line in tail.splitlines()} <= holders

    # entrasync-ctl effective: objects named by name, the tenant by its domain.
    who = json.loads(
        ctl(console_stack, "effective", "members", directory["domain"], "Tier0 Admins")
    )
    (mine,) = [m for m in who["items"] if m["member_id"] == user["id"]]
    assert (mine["path_text"], mine["direct"]) == (f"Tier0 Admins ← {user['displayName']}", True)
    what = ctl(console_stack, "effective", "memberships", tenant["id"], user["displayName"])
    roles = [i for i in json.loads(what)["items"] if i["container_type"] == "directoryRole"]
    assert [(r["role_template_id"], r["path_text"]) for r in roles] == [
        (GLOBAL_ADMINISTRATOR, path)
    ]
    unknown = ctl_refused(console_stack, "effective", "members", tenant["id"], NO_SUCH_OBJECT)
    assert "not_found" in unknown and NO_SUCH_OBJECT in unknown


NO_SUCH_OBJECT = "00000000-0000-4000-8000-000000000000"


def effective_answers(
    api: httpx.Client, tenant_id: str, role_id: str, user_id: str
) -> dict[str, httpx.Response]:
    """History's effective membership through the REST API: the role's members, the user's
    memberships, and a container nobody holds."""
    base = f"/api/v1/tenants/{tenant_id}/effective"
    return {
        "members": api.get(f"{base}/members", params={"container": role_id}),
        "memberships": api.get(f"{base}/memberships", params={"principal": user_id}),
        "unknown": api.get(f"{base}/members", params={"container": NO_SUCH_OBJECT}),
    }


def assert_effective_answers(
    found: dict[str, httpx.Response], path: str, role_id: str, group_id: str, user_id: str
) -> None:
    members, memberships = found["members"].json(), found["memberships"].json()
    (mine,) = [m for m in members["items"] if m["member_id"] == user_id]
    assert (mine["path_text"], mine["direct"], mine["path"]) == (path, False, [role_id, group_id])
    (role,) = [i for i in memberships["items"] if i["container_id"] == role_id]
    assert (role["path_text"], role["role_template_id"]) == (path, GLOBAL_ADMINISTRATOR)
    assert found["unknown"].status_code == 404, found["unknown"].text


def ctl_refused(stack: ServiceStack, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTRASYNC_")}
    env.update(ENTRASYNC_NATS_URL=stack.nats_url, ENTRASYNC_PREFIX=stack.prefix)
    command = [str(Path(sys.executable).parent / "entrasync-ctl"), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    return done.stderr
