"""The store glue of effective membership (issue 20.4): what a commit changes is read back as
edits (a deleted container holds no edges, a restored one holds them again), and the change
worked out from the neighbourhood the store loads equals the change on the whole tenant's index:
the same events, the same ancestors to store, and a stored closure that stays the one a fresh
computation makes."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from entrasync_history.domain.effective import EffectiveIndex, MembershipEdit
from entrasync_history.domain.effective_plan import (
    ClosureUpdate,
    container_edges,
    effective_events,
    membership_edits,
    role_template,
)
from entrasync_history.domain.model import StoredObject
from entrasync_history.usecases.effective import Cause, effective_change, first_computation
from entrasync_shared.members import MemberType
from entrasync_shared.subjects import Names, ObjectType
from history_fakes import T0, TENANT, FakeHistoryStore
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "entrasync-hypothesis")

CONTAINERS: dict[str, ObjectType] = {
    **{f"g{n}": "group" for n in range(6)},
    "r0": "directoryRole",
    "r1": "directoryRole",
    "a0": "administrativeUnit",
}
KINDS: dict[str, MemberType] = {
    **{f"g{n}": "group" for n in range(6)},
    "u0": "user",
    "u1": "user",
    "d0": "device",
    "s0": "servicePrincipal",
}
CAUSE = Cause(Names(), TENANT, "r9", "batch-1", T0)


def container(object_id: str, members: set[str], live: bool = True) -> StoredObject:
    return StoredObject(
        tenant_id=TENANT,
        object_type=CONTAINERS[object_id],
        object_id=object_id,
        first_seen=T0,
        last_seen_run="r1",
        last_seen_at=T0,
        attributes={"roleTemplateId": f"t-{object_id}"} if object_id.startswith("r") else {},
        members=frozenset(members),
        member_types={m: KINDS[m] for m in members if KINDS[m] != "user"},
        deletion=None if live else "soft",
    )


def edits_of(objects: list[StoredObject]) -> list[MembershipEdit]:
    return [
        MembershipEdit(
            o.object_type, o.object_id, container_edges(o), role_template_id=role_template(o)
        )  # type: ignore[arg-type]
        for o in objects
    ]


def test_a_deleted_container_loses_its_edges_and_its_restore_brings_them_back() -> None:
    live = container("g1", {"u0", "d0"})
    gone = replace(live, deletion="soft")
    [dropped] = membership_edits([live], [gone])
    assert (dropped.added, dropped.removed) == ({}, frozenset({"u0", "d0"}))
    [back] = membership_edits([gone], [live])
    assert (back.added, back.removed) == ({"d0": "device", "u0": "user"}, frozenset())
    assert membership_edits([gone], [replace(gone, members=frozenset({"u1"}))]) == []


def test_a_hidden_member_is_no_edge_and_other_objects_are_not_containers() -> None:
    group = container("g1", {"u0", "u1"})
    hidden = replace(group, members=frozenset({"u0"}), hidden_members=frozenset({"u1"}))
    [edit] = membership_edits([group], [hidden])
    assert (edit.added, edit.removed) == ({}, frozenset({"u1"}))
    user = replace(group, object_type="user", object_id="u0")
    assert membership_edits([], [user]) == []


def test_a_new_roles_edit_carries_its_template() -> None:
    [edit] = membership_edits([], [container("r0", {"u0"})])
    assert (edit.container_type, edit.role_template_id) == ("directoryRole", "t-r0")


state = st.fixed_dictionaries(
    {
        c: st.tuples(st.booleans(), st.sets(st.sampled_from(sorted(KINDS)), max_size=3))
        for c in CONTAINERS
    }
)


@settings(max_examples=150, deadline=None)
@given(start=state, steps=st.lists(state, min_size=1, max_size=4), touched=st.data())
def test_the_loaded_neighbourhood_gives_the_whole_indexs_change(
    start: dict[str, Any], steps: list[dict[str, Any]], touched: st.DataObject
) -> None:
    asyncio.run(_play(start, steps, touched))


async def _play(start: dict[str, Any], steps: list[dict[str, Any]], touched: Any) -> None:
    store = FakeHistoryStore()
    for cid, (live, members) in start.items():
        store.objects[(CONTAINERS[cid], cid)] = container(cid, members - {cid}, live)
    work = await first_computation(store.effective, CAUSE, [])
    assert work.closure is not None and work.closure.rebuilt
    store.effective.write(TENANT, work.closure)
    for n, step in enumerate(steps):
        # Some containers take their new state in this commit, the others keep theirs.
        changed = touched.draw(st.sets(st.sampled_from(sorted(CONTAINERS)), min_size=1))
        before = [store.objects[(CONTAINERS[c], c)] for c in sorted(changed)]
        writes = [container(c, step[c][1] - {c}, step[c][0]) for c in sorted(changed)]
        whole = EffectiveIndex.build(edits_of(list(store.objects.values())))
        expected = whole.change(membership_edits(before, writes))
        cause = replace(CAUSE, step=f"batch-{n}")
        done = await effective_change(store.effective, cause, before, writes)
        names = Names()
        wanted = effective_events(names, TENANT, "r9", cause.step, expected.deltas, T0)
        assert [e.msg_id for e in done.events] == [e.msg_id for e in wanted]
        got = done.closure.ancestors if done.closure else {}
        assert {g: dict(up) for g, up in got.items()} == {
            g: dict(up) for g, up in expected.ancestors.items()
        }
        if done.closure is not None:
            store.effective.write(TENANT, done.closure)
        for obj in writes:
            store.objects[(obj.object_type, obj.object_id)] = obj
        fresh = EffectiveIndex.build(edits_of(list(store.objects.values())))
        assert store.effective.closure == {g: dict(up) for g, up in fresh.closure().items()}


def test_a_rebuild_replaces_what_was_stored() -> None:
    store = FakeHistoryStore()
    store.effective.closure["old"] = {"x": ("x",)}
    store.effective.write(TENANT, ClosureUpdate({"g1": {"r0": ("r0",)}}, rebuilt=True))
    assert store.effective.closure == {"g1": {"r0": ("r0",)}}
