"""The privileged-access view's read model: who holds each directory role with the path spelt
in names, its search, and the role changes told by stored events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from console_fakes import NOW, FakeEventLog
from entrasync_console.core import privileged, role_changes
from entrasync_shared.members import MemberType
from entrasync_shared.messages import EffectiveMember, PrivilegedRole, PrivilegedRoles
from entrasync_shared.subjects import Names

GA, TIER0, HELPDESK = "role-ga", "grp-tier0", "grp-helpdesk"


def member(kind: MemberType, object_id: str, name: str, *path: str) -> EffectiveMember:
    return EffectiveMember(
        type=kind, id=object_id, display_name=name, path=path, direct=len(path) == 1
    )


def roles() -> PrivilegedRoles:
    tier0 = member("group", TIER0, "Tier0 Admins", GA)
    alice = member("user", "u-alice", "alice", GA, TIER0)
    bob = member("user", "u-bob", "bob", GA)
    ga = PrivilegedRole(
        id=GA,
        display_name="Global Administrator",
        role_template_id="62e90394-69f5-4237-9190-012177145e10",
        direct_members=(tier0, bob),
        effective_members=(alice, tier0, bob),
        effective_total=3,
    )
    reader = PrivilegedRole(
        id="role-reader",
        display_name="Directory Readers",
        direct_members=(),
        effective_members=(),
        effective_total=0,
    )
    return PrivilegedRoles(tenant_id="t1", items=(reader, ga), names={HELPDESK: "Helpdesk"})


def test_each_holder_of_a_role_shows_the_path_that_gives_it_in_names() -> None:
    lines = privileged.member_lines(roles())
    assert [(x.role_name, x.member_name, x.direct, x.path_text) for x in lines] == [
        ("Global Administrator", "bob", True, "Global Administrator ← bob"),
        ("Global Administrator", "Tier0 Admins", True, "Global Administrator ← Tier0 Admins"),
        ("Global Administrator", "alice", False, "Global Administrator ← Tier0 Admins ← alice"),
    ]


def test_the_search_finds_a_member_by_name_and_everyone_a_group_gives_the_role() -> None:
    by_name = privileged.access(roles(), "ALICE").members
    through = privileged.access(roles(), "tier0").members
    assert [x.member_id for x in by_name] == ["u-alice"]
    assert {x.member_id for x in through} == {TIER0, "u-alice"}
    assert [x.member_id for x in privileged.access(roles(), "effective").members] == ["u-alice"]
    assert privileged.access(roles(), "nobody").members == ()


def event(kind: str, when: datetime, data: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": f"io.entrasync.directory.{kind}",
        "time": when.isoformat(),
        "data": data,
    }


def assigned(when: datetime, run: str, added: list[str], removed: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    data = {
        "tenant_id": "t1",
        "object_type": "directoryRole",
        "object_id": GA,
        "run_id": run,
        "added": added,
        "removed": list(removed),
        "added_members": [{"type": "user", "id": i} for i in added],
        "removed_members": [{"type": "user", "id": i} for i in removed],
    }
    return event("directoryRole.members_changed", when, data, f"m-{run}")


def effective(
    when: datetime, run: str, principal: str, gained: list[tuple[str, str, list[str]]],
    lost: list[tuple[str, str, list[str]]] = (), baseline: bool = False,  # type: ignore[assignment]
) -> dict[str, Any]:  # fmt: skip
    def entries(found: list[tuple[str, str, list[str]]]) -> list[dict[str, Any]]:
        return [{"container_type": t, "container_id": i, "path": p} for t, i, p in found]

    data = {
        "tenant_id": "t1",
        "run_id": run,
        "principal_type": "user",
        "principal_id": principal,
        "gained": entries(gained),
        "lost": entries(list(lost)),
        "baseline": baseline,
    }
    return event("user.effective_changed", when, data, f"e-{run}-{principal}")


def test_role_changes_come_from_role_assignments_and_from_groups_newest_first() -> None:
    names = privileged.known_names(roles())
    day = timedelta(days=1)
    events = [
        effective(
            NOW - 3 * day, "r0", "u-alice", [("directoryRole", GA, [GA, TIER0])], baseline=True
        ),
        assigned(NOW - 3 * day, "r0", ["u-bob"]),  # first seen in the baseline's run
        assigned(NOW - 2 * day, "r1", ["u-bob"]),
        effective(NOW - 2 * day, "r1", "u-bob", [("directoryRole", GA, [GA])]),  # the same change
        effective(NOW - day, "r2", "u-carol", [("group", HELPDESK, [HELPDESK])]),  # no role
        effective(
            NOW,
            "r3",
            "u-alice",
            [("group", TIER0, [TIER0])],
            lost=[("directoryRole", GA, [GA, TIER0])],
        ),
    ]
    changes = role_changes.role_changes(events, names)
    assert [(c.change, c.principal_name, c.path_text, c.direct, c.run_id) for c in changes] == [
        ("removed", "alice", "Global Administrator ← Tier0 Admins ← alice", False, "r3"),
        ("added", "bob", "Global Administrator ← bob", True, "r1"),
    ]
    assert changes[1].event_id == "m-r1" and changes[0].time == NOW


def test_an_event_of_a_shape_this_console_does_not_know_is_no_role_change() -> None:
    odd = event("directoryRole.members_changed", NOW, {"object_id": GA}, "x")
    assert role_changes.role_changes([odd, {"type": "io.entrasync.sync.recorded"}], {}) == []


async def test_recent_role_changes_read_the_tenants_role_subjects_of_the_last_30_days() -> None:
    log = FakeEventLog([assigned(NOW, "r1", ["u-bob"])])
    names = Names("p")
    found = await role_changes.recent_role_changes(log, names, "t1", {}, NOW)
    assert log.asked == [
        (
            (
                "p.entrasync.directory.t1.directoryRole.members_changed",
                "p.entrasync.directory.t1.*.effective_changed",
            ),
            NOW - timedelta(days=30),
            role_changes.MAX_CHANGE_EVENTS,
        )
    ]
    assert (found.complete, [c.principal_id for c in found.items]) == (True, ["u-bob"])


def test_the_privileged_filter_keeps_roles_their_holders_and_what_gives_or_takes_a_role() -> None:
    only = role_changes.PrivilegedFilter()
    only.know(roles())
    carol_in = effective(NOW, "r4", "u-carol", [("directoryRole", GA, [GA, TIER0])])
    carol_out = effective(NOW, "r5", "u-carol", [], lost=[("directoryRole", GA, [GA, TIER0])])
    helpdesk = effective(NOW, "r6", "u-dan", [("group", HELPDESK, [HELPDESK])])

    def updated(object_id: str) -> dict[str, Any]:
        data = {"tenant_id": "t1", "object_type": "user", "object_id": object_id}
        return event("user.updated", NOW, data, f"u-{object_id}")

    tier0_members = {"tenant_id": "t1", "object_type": "group", "object_id": TIER0}
    kept = [
        only.keeps(assigned(NOW, "r1", ["u-bob"])),  # a role's own event
        only.keeps(updated("u-alice")),  # holds a role through Tier0 Admins
        only.keeps(event("group.members_changed", NOW, tier0_members, "g")),  # gives a role
        only.keeps(updated("u-carol")),  # not yet
        only.keeps(carol_in),
        only.keeps(updated("u-carol")),  # now a holder
        only.keeps(carol_out),  # losing it is privileged news too
        only.keeps(updated("u-carol")),  # no longer
        only.keeps(helpdesk),
    ]
    assert kept == [True, True, True, False, True, True, True, False, False]
