"""Randomised convergence (issue 17.12): whatever the directory does, whatever fails, the
inventory ends up exactly the directory.

Hypothesis draws a small tenant, Graph's delta quirks and a replication lag, then a sequence of
directory mutations (create, update, clear a property, soft and hard delete, restore, member add
and remove, a big group over several member slices; service principals and contacts as members,
created and deleted; administrative units, a container other than groups, issue 20) interleaved
with delta and full runs, 429 storms and clock jumps; a run may kill the syncer after any
publish (the command comes back as the next attempt) and history before or after committing any
message (it comes back before anything newer: the pipeline durable has `max_ack_pending=1`).
After every run that succeeded with no change still inside the lag, the inventory equals the
simulator's truth (member types included), and effective membership (the built-in directory
roles synced too, groups nested at random) equals a brute-force transitive closure of the truth:
the stored closure and the API's answers both ways (issue 20.4); with restores missed by
`$select` delta rounds (Graph's quirk, microsoft-graph-docs#5821) only once a full run has
listed them again (entrasync's answer is its periodic full scan). At the end: the inventory
is exact, an unchanged delta run and an unchanged full run publish no directory event, and
replaying each object's events from the start (strictly: no second `created`, no update that
changes nothing, no member added twice) yields its state.

Profiles: `ci` (200 sequences, derandomised: the same 200 every time) by default; `soak`
(5,000, a fresh seed each time, printed on failure) with ENTRASYNC_HYPOTHESIS_PROFILE=soak.
A failure prints the shrunk sequence and a `@reproduce_failure` blob. No example database.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from convergence_harness import KINDS, OTHER_KINDS, World, differences, world
from effective_reference import Edges, closure
from entrasync_history.domain.effective import EffectiveIndex, MembershipEdit
from entrasync_history.usecases.effective_queries import (
    effective_members,
    effective_memberships,
    privileged_roles,
)
from entrasync_shared.messages import (
    EffectiveMembershipsQuery,
    EffectiveMembersQuery,
    PrivilegedRolesQuery,
)
from entrasync_shared.subjects import CONTAINER_TYPES
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches under .hypothesis/ in the working directory: not in the repo.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "entrasync-hypothesis")

_COMMON: dict[str, Any] = {
    "deadline": None,
    "print_blob": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=200, derandomize=True, **_COMMON)
settings.register_profile("soak", max_examples=5_000, **_COMMON)
PROFILE = settings(
    settings.get_profile(os.environ.get("ENTRASYNC_HYPOTHESIS_PROFILE", "ci")),
    **(
        {"max_examples": int(os.environ["ENTRASYNC_HYPOTHESIS_EXAMPLES"])}
        if os.environ.get("ENTRASYNC_HYPOTHESIS_EXAMPLES")
        else {}
    ),
)

TYPES = st.sampled_from(["user", "group", "device", "administrativeUnit"])
CONTAINERS = st.sampled_from(["group", "group", "administrativeUnit", "directoryRole"])
OTHERS = st.sampled_from(sorted(OTHER_KINDS))
ANY_TYPE = TYPES | OTHERS
PICK = st.integers(0, 40)
PROPS = {
    "user": ("displayName", "jobTitle", "department"),
    "group": ("displayName", "description"),
    "device": ("displayName", "operatingSystemVersion"),
    "administrativeUnit": ("displayName", "description"),
}
CLEARABLE = {
    "user": ("jobTitle", "department"),
    "group": ("description",),
    "device": (),
    "administrativeUnit": ("description",),
}

MUTATIONS = st.one_of(
    st.tuples(st.just("create"), ANY_TYPE, st.booleans()),
    st.tuples(st.just("update"), TYPES, PICK, st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("clear"), TYPES, PICK, st.integers(0, 1)),
    st.tuples(st.just("soft_delete"), TYPES, PICK),
    st.tuples(st.just("hard_delete"), ANY_TYPE, PICK),
    st.tuples(st.just("restore"), TYPES, PICK),
    st.tuples(st.just("add_member"), CONTAINERS, PICK, ANY_TYPE, PICK),
    st.tuples(st.just("remove_member"), CONTAINERS, PICK, PICK),
    st.tuples(st.just("big_group"), PICK, st.integers(3, 9)),
)
RUNS = st.tuples(
    st.just("run"),
    st.sampled_from(["delta", "delta", "full"]),
    st.none() | st.integers(1, 12),  # kill the syncer after that many publishes
    st.frozensets(st.integers(1, 14), max_size=3),  # history crashes on these deliveries
)
CHAOS = st.one_of(
    st.tuples(st.just("throttle"), st.integers(1, 3), st.sampled_from(["1", "5", "45"])),
    st.tuples(st.just("advance"), st.integers(1, 90)),
)
STEPS = st.lists(st.one_of(MUTATIONS, MUTATIONS, RUNS, CHAOS), min_size=3, max_size=32)
QUIRK = st.sampled_from([0.0, 0.0, 0.25, 0.5])
SCENARIOS = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**16),
        "sizes": st.tuples(st.integers(0, 6), st.integers(0, 4), st.integers(0, 3)),
        "paging": st.tuples(st.integers(2, 5), st.integers(1, 4)),
        "quirks": st.tuples(QUIRK, QUIRK, QUIRK),
        "lag": st.sampled_from([0, 0, 30]),
        "missed_restores": st.sampled_from([0.0, 0.0, 0.5, 1.0]),
        "steps": STEPS,
    }
)


class Sequence:
    """Plays one drawn scenario against a World, checking convergence as it goes."""

    def __init__(self, w: World, lag: int) -> None:
        self.w = w
        self.lag = lag
        self.ids: dict[str, list[str]] = {t: [] for t in (*KINDS, *OTHER_KINDS)}
        self.last_change = 0.0
        self.counter = 0
        self.missed_restores = 0.0
        # A restore a `$select` delta round may have missed: exact again after a full run.
        self.restore_unseen = False

    async def start(self, scenario: dict[str, Any]) -> None:
        truth = await self.w.truth()
        for object_type, kind in {**KINDS, **OTHER_KINDS}.items():
            self.ids[object_type] = sorted(o["id"] for o in truth[kind])
        duplicates, replays, empty = scenario["quirks"]
        self.missed_restores = scenario.get("missed_restores", 0.0)
        quirks = {
            "duplicates": duplicates,
            "replays": replays,
            "empty_pages": empty,
            "missed_restores": self.missed_restores,
            "seed": 7,
        }
        await self.w.control("PUT", f"/tenants/{self.w.tid}/quirks", json=quirks)
        if self.lag:
            await self.w.control("PUT", f"/tenants/{self.w.tid}/lag", json={"seconds": self.lag})
        await self.run("full", None, frozenset())

    def pick(self, object_type: str, index: int) -> str | None:
        ids = self.ids[object_type]
        return ids[index % len(ids)] if ids else None

    async def mutate(self, operations: list[dict[str, Any]]) -> list[str] | None:
        ids = await self.w.mutate(operations)
        if ids is not None:
            self.last_change = self.w.simulator.clock.seconds()
        return ids

    def attrs(self, object_type: str, unified: bool) -> dict[str, Any]:
        self.counter += 1
        n = self.counter
        if object_type == "user":
            return {"displayName": f"New {n}", "userPrincipalName": f"n{n}@x.test", "jobTitle": "J"}
        if object_type == "device":
            return {"displayName": f"DEV-{n}", "operatingSystemVersion": "1.0"}
        if object_type in OTHER_KINDS:
            return {"displayName": f"{object_type} {n}"}
        if object_type == "administrativeUnit":
            return {"displayName": f"Unit {n}", "description": "made in a test"}
        return {
            "displayName": f"Team {n}",
            "description": "made in a test",
            "groupTypes": ["Unified"] if unified else [],
            "mailEnabled": unified,
            "securityEnabled": not unified,
        }

    async def step(self, step: tuple[Any, ...]) -> None:
        name = step[0]
        if name == "run":
            await self.run(*step[1:])
        elif name == "throttle":
            fault = {"endpoint": "*/delta", "status": 429, "count": step[1]}
            await self.w.control("POST", "/faults", json={**fault, "retry_after": step[2]})
        elif name == "advance":
            self.w.simulator.clock.advance(step[1])
        else:
            await self.mutation(step)

    async def mutation(self, step: tuple[Any, ...]) -> None:
        name, rest = step[0], step[1:]
        if name == "create":
            object_type, unified = rest
            op = {"op": "create", "type": object_type, "attrs": self.attrs(object_type, unified)}
            made = await self.mutate([op])
            if made:
                self.ids[object_type].append(made[0])
        elif name in ("update", "clear"):
            object_type, index = rest[0], rest[1]
            target = self.pick(object_type, index)
            if name == "update":
                props = PROPS[object_type]
                attrs: dict[str, Any] = {props[rest[2] % len(props)]: f"v{rest[3]}"}
            elif CLEARABLE[object_type]:
                attrs = {CLEARABLE[object_type][rest[2] % len(CLEARABLE[object_type])]: None}
            else:
                return
            if target:
                await self.mutate(
                    [{"op": "update", "type": object_type, "id": target, "attrs": attrs}]
                )
        elif name in ("soft_delete", "hard_delete", "restore"):
            target = self.pick(rest[0], rest[1])
            if target and await self.mutate([{"op": name, "type": rest[0], "id": target}]):
                self.restore_unseen |= name == "restore" and self.missed_restores > 0
        elif name == "add_member":
            group, member = self.pick(rest[0], rest[1]), self.pick(rest[2], rest[3])
            if group and member:
                await self.mutate([{"op": "add_member", "group_id": group, "member_id": member}])
        elif name == "remove_member":
            await self.remove_member(*rest)
        else:
            await self.big_group(rest[0], rest[1])

    async def remove_member(self, container: str, group_index: int, member_index: int) -> None:
        group = self.pick(container, group_index)
        groups = {g["id"]: g for g in (await self.w.truth())[KINDS[container]]}
        members = groups.get(group, {}).get("members") or []
        if members:
            member = members[member_index % len(members)]
            await self.mutate([{"op": "remove_member", "group_id": group, "member_id": member}])

    async def big_group(self, group_index: int, size: int) -> None:
        """New users joining one group at once: its members come over several slices."""
        group = self.pick("group", group_index)
        if not group:
            return
        ops: list[dict[str, Any]] = [
            {"op": "create", "type": "user", "attrs": self.attrs("user", False)}
            for _ in range(size)
        ]
        ops += [{"op": "add_member", "group_id": group, "member_id": f"${i}"} for i in range(size)]
        made = await self.mutate(ops)
        if made:
            self.ids["user"] += made[:size]

    async def run(self, mode: str, kill_after: int | None, crashes: frozenset[int]) -> None:
        started = self.w.simulator.clock.seconds()
        run_id, finished, attempts = await self.w.sync(mode, kill_after)
        await self.w.deliver(set(crashes))
        note(f"{run_id} {mode}: {finished.status} after {attempts} attempt(s)")
        settled = started - self.last_change > self.lag if self.lag else True
        recorded = self.w.recorded.get(run_id)
        succeeded = recorded is not None and recorded.status == "Succeeded"
        if succeeded and mode == "full":
            self.restore_unseen = False  # a full round lists every live object
        if settled and succeeded and not self.restore_unseen:
            await self.assert_exact(run_id)

    async def settle(self) -> None:
        """No more faults, the lag over, everything redelivered: then the checks that need a
        quiet tenant."""
        await self.w.control("DELETE", "/faults")
        self.w.simulator.clock.advance(self.lag + 1)
        await self.w.drain()
        if self.restore_unseen:
            # The periodic full scan; its sweep cannot tell a soft delete from a purge, and a
            # delta round's replayed `@removed` may still say which (an event, not a repeat).
            await self.expect_exact("full")
        await self.expect_exact("delta")
        before = directory_events(self.w)
        await self.expect_exact("delta")
        await self.expect_exact("full")
        assert directory_events(self.w)[len(before) :] == [], "an unchanged run published"
        await assert_effective(self.w, await self.w.truth(), "the last run", both_ways=True)

    async def expect_exact(self, mode: str) -> None:
        run_id, finished, _ = await self.w.sync(mode, None)
        await self.w.drain()
        recorded = self.w.recorded[run_id]
        assert recorded.status == "Succeeded", recorded
        await self.assert_exact(run_id)

    async def assert_exact(self, run_id: str) -> None:
        truth = await self.w.truth()
        problems = differences(self.w.inventory(), truth)
        assert not problems, f"after {run_id}:\n" + "\n".join(problems)
        await assert_effective(self.w, truth, run_id)


async def assert_effective(
    w: World, truth: dict[str, list[dict[str, Any]]], run_id: str, *, both_ways: bool = False
) -> None:
    """Effective membership equals a brute-force transitive closure of the truth: the stored
    closure is a fresh computation's, and the API's answers (each container's members; with
    `both_ways`, each principal's containers too) are the brute force's, path lengths
    included."""
    edges = Edges()
    for object_type in CONTAINER_TYPES:
        for container in truth[KINDS[object_type]]:
            edges.edit(
                MembershipEdit(
                    object_type,  # type: ignore[arg-type]
                    container["id"],
                    dict(container["memberTypes"]),
                    role_template_id=container.get("roleTemplateId"),
                )
            )
    expected = closure(edges)
    fresh = EffectiveIndex.build(edges.edits())
    stored = w.store.effective
    assert stored.closure == fresh.closure(), f"stored closure after {run_id}"
    principals = sorted(set(expected) | {m for held in edges.members.values() for m in held})
    for principal in principals if both_ways else ():
        query = EffectiveMembershipsQuery(tenant_id="t1", principal_id=principal)
        found = await effective_memberships(stored, query)
        got = {m.container.id: len(m.path) for m in found.items}
        assert got == expected.get(principal, {}), f"{principal} after {run_id}"
    roles = await privileged_roles(stored, PrivilegedRolesQuery(tenant_id="t1"))
    for role in roles.items:
        want = {p: d[role.id] for p, d in expected.items() if role.id in d}
        assert {m.id: len(m.path) for m in role.effective_members} == want, role.id
    assert sorted(r.id for r in roles.items) == sorted(c["id"] for c in truth["directoryRoles"])
    # Each group's and unit's members every time; the roles' own answers come at the end.
    others = [c for c, kind in edges.types.items() if kind != "directoryRole"]
    for container in edges.members if both_ways else [c for c in others if c in edges.members]:
        query = EffectiveMembersQuery(tenant_id="t1", container_id=container, page_size=1000)
        answer = await effective_members(stored, query)
        assert answer is not None, container
        got = {m.id: len(m.path) for m in answer.items}
        want = {p: d[container] for p, d in expected.items() if container in d}
        assert got == want, f"members of {container} after {run_id}"


def directory_events(w: World) -> list[Any]:
    """The objects' events (effective membership's are about principals, checked apart)."""
    return [
        e
        for e in w.events.stream
        if ".directory." in e.envelope.type and not e.envelope.type.endswith(".effective_changed")
    ]


def replayed(events: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each object's state from its events alone, refusing any event its state already shows."""
    state: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        data, kind = event.envelope.data, event.envelope.type.rsplit(".", 1)[1]
        key = (data.object_type, data.object_id)
        obj = state.setdefault(key, {"live": False, "attributes": {}, "members": set()})
        where = f"{kind} {key} {event.msg_id}"
        if kind == "created":
            assert not obj["live"], f"a second created: {where}"
            obj.update(
                live=True, attributes={k: v for k, v in data.attributes.items() if v is not None}
            )
        elif kind == "updated":
            assert obj["live"] or data.restored, f"update of a deleted object: {where}"
            assert data.changed or data.restored, f"an update that changes nothing: {where}"
            for name, value in data.changed.items():
                assert obj["attributes"].get(name) != value, f"update repeats {name}: {where}"
                if value is None:
                    obj["attributes"].pop(name, None)
                else:
                    obj["attributes"][name] = value
            obj["live"] = True
        elif kind == "deleted":
            # A deleted object may be deleted again only to say how, once Graph tells (a full
            # scan's sweep cannot tell a soft delete from a purge; `@removed` later can).
            again = not obj["live"] and obj.get("soft") != data.soft and data.reason == "removed"
            assert obj["live"] or again, f"a deleted object deleted again: {where}"
            obj.update(live=False, soft=data.soft)
        else:
            added, removed = set(data.added), set(data.removed)
            assert not added & obj["members"], f"members added twice: {where}"
            assert removed <= obj["members"], f"absent members removed: {where}"
            obj["members"] = (obj["members"] | added) - removed
    return state


def assert_replay_matches(w: World) -> None:
    state = replayed(directory_events(w))
    for (object_type, object_id), stored in w.store.objects.items():
        mine = state.get((object_type, object_id), {"live": False})
        assert mine["live"] == stored.live, (object_type, object_id, mine, stored)
        if stored.live:
            attributes = {k: v for k, v in stored.attributes.items() if v is not None}
            assert mine["attributes"] == attributes, (object_type, object_id)
            assert mine["members"] == set(stored.members), (object_type, object_id)
    stored_live = {k for k, o in w.store.objects.items() if o.live}
    assert {k for k, o in state.items() if o["live"]} <= stored_live


async def play(scenario: dict[str, Any]) -> None:
    note(f"scenario: {scenario!r}")
    users, groups, devices = scenario["sizes"]
    page_size, member_slice = scenario["paging"]
    async with world(users, groups, devices, page_size, member_slice, scenario["seed"]) as w:
        sequence = Sequence(w, scenario["lag"])
        await sequence.start(scenario)
        for step in scenario["steps"]:
            await sequence.step(step)
        await sequence.settle()
        ids = [e.msg_id for e in w.events.stream]
        assert len(ids) == len(set(ids))
        assert_replay_matches(w)


# Shrunk sequences the test found, kept as examples. An xfail one is an open defect (see its
# reason); when a fix makes it pass, Hypothesis says so: make it a plain example.
# A user created and soft-deleted between two runs, whose group lists its edge (fixed).
NEVER_SEEN_SOFT_DELETED_MEMBER = {
    "seed": 0,
    "sizes": (0, 0, 0),
    "paging": (2, 1),
    "quirks": (0.0, 0.0, 0.0),
    "lag": 0,
    "steps": [("create", "group", False), ("big_group", 0, 3), ("soft_delete", "user", 0)],
}
NEVER_SEEN_SOFT_DELETED_MEMBER_THEN_FULL_SCAN = {
    **NEVER_SEEN_SOFT_DELETED_MEMBER,
    "steps": [*NEVER_SEEN_SOFT_DELETED_MEMBER["steps"], ("run", "full", None, frozenset())],
}
CHANGE_REPLANNED_AFTER_A_NEWER_ONE = {
    "seed": 0,
    "sizes": (0, 1, 0),
    "paging": (2, 1),
    "quirks": (0.0, 0.0, 0.0),
    "lag": 0,
    "steps": [("big_group", 0, 7), ("run", "delta", None, frozenset({3}))],
}
STALE_DELTA_BATCH_REDELIVERED_LATE = {
    "seed": 0,
    "sizes": (0, 1, 0),
    "paging": (5, 4),
    "quirks": (0.0, 0.0, 0.0),
    "lag": 0,
    "steps": [
        ("big_group", 0, 2),
        ("run", "delta", None, frozenset({3})),
        ("update", "group", 0, 0, 0),
        ("run", "delta", None, frozenset()),
    ],
}

# Found by `make soak` (5,000 sequences): a soft-deleted group restored after a full run brings
# back the edge to a member soft-deleted meanwhile that no round ever listed (the inventory
# listed it, the truth does not) ...
RESTORED_GROUP_KEEPS_A_SOFT_DELETED_MEMBER = {
    "seed": 0,
    "sizes": (0, 1, 0),
    "paging": (2, 1),
    "quirks": (0.0, 0.0, 0.0),
    "lag": 0,
    "missed_restores": 0.0,
    "steps": [
        ("big_group", 0, 3),
        ("soft_delete", "user", 0),
        ("soft_delete", "group", 0),
        ("run", "full", None, frozenset()),
        ("restore", "group", 0),
    ],
}
# ... and the events of a group restored after a full run, replayed, listed a member its stored
# state does not hold (the sweep had hidden the member in the deleted group without an event).
RESTORED_GROUP_EVENTS_DISAGREE_WITH_ITS_STATE = {
    "seed": 0,
    "sizes": (1, 1, 1),
    "paging": (2, 1),
    "quirks": (0.0, 0.0, 0.0),
    "lag": 0,
    "missed_restores": 0.0,
    "steps": [
        ("soft_delete", "user", 0),
        ("soft_delete", "group", 0),
        ("run", "full", None, frozenset()),
        ("restore", "group", 0),
    ],
}

# Found by `make soak` after those fixes, open (the simulator's, not history's): a user's
# property is cleared, then the user is soft-deleted and restored, all between two runs. The
# delta round lists the restored user like a new one, nulls left out (`Directory.restore` drops
# its property history), so history's merge keeps the old value. Graph's user-delta.md says a
# property changed since the link is included "including properties being set to null"; which
# of the two Graph does for a restore is not documented (history cannot tell a restore it never
# saw a soft delete for from an update).
CLEARED_THEN_SOFT_DELETED_AND_RESTORED_USER = {
    "seed": 0,
    "sizes": (1, 0, 0),
    "paging": (2, 1),
    "quirks": (0.0, 0.0, 0.0),
    "lag": 0,
    "missed_restores": 0.0,
    "steps": [("clear", "user", 0, 0), ("soft_delete", "user", 0), ("restore", "user", 0)],
}


@PROFILE
@given(SCENARIOS)
@example(NEVER_SEEN_SOFT_DELETED_MEMBER)
# The same user, but the next run is a full scan: its users round does not list the user and
# sends no @removed, its groups round lists the edge. Fixed: the full run's finish hides new
# edges to members not live in the inventory.
@example(NEVER_SEEN_SOFT_DELETED_MEMBER_THEN_FULL_SCAN)
# History killed between committing a batch and publishing its events (a group's
# members_changed); a newer batch of the group commits first. Fixed by the outbox: the events
# go out after the commit, from the outbox, with the ids they were committed with.
@example(CHANGE_REPLANNED_AFTER_A_NEWER_ONE)
# History killed before committing a delta batch that adds two members to a group, then the
# group updated and a second delta run. It failed while the killed batch could come back after
# the next run's batch of the group (a stale batch whose members `positions.fresh_part` then
# dropped). Fixed at the source: the pipeline durable has `max_ack_pending=1`, so JetStream
# redelivers the killed batch before anything newer (tests/integration/history/
# test_history_ordering.py shows it on the real server); the harness now delivers that way.
@example(STALE_DELTA_BATCH_REDELIVERED_LATE)
# Fixed: the finish of a run whose delta round read the member's type hides pending members
# still not live, as a full run's finish did (tests/unit/history/test_history_restored_group.py).
@example(RESTORED_GROUP_KEEPS_A_SOFT_DELETED_MEMBER)
# Fixed: a deleted group keeps the membership it was last published with; its restore publishes
# the change from that list to its live members.
@example(RESTORED_GROUP_EVENTS_DISAGREE_WITH_ITS_STATE)
@example(CLEARED_THEN_SOFT_DELETED_AND_RESTORED_USER).xfail(
    raises=AssertionError,
    reason="a delta round lists a user restored after a clear without the cleared property "
    "(the simulator renders a restore like a creation): history keeps the old value",
)
def test_the_inventory_converges_exactly_whatever_the_directory_and_the_faults_do(
    scenario: dict[str, Any],
) -> None:
    asyncio.run(play(scenario))
