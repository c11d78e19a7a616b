"""The finish's check of pending member edges goes through the groups a pass at a time, settling
each pass as it goes: after a big first load every group has every edge pending, and holding
them all at once cost history over 100 MB at the finish (`make bench`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import pytest
from entrasync_history.domain.model import StoredObject
from entrasync_history.usecases import unknown_members
from entrasync_history.usecases.unknown_members import check_pending_members
from entrasync_shared.subjects import ObjectType
from history_fakes import FakeHistoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def stored(object_type: ObjectType, object_id: str, pending: Iterable[str] = ()) -> StoredObject:
    pending = frozenset(pending)
    return StoredObject(
        tenant_id="t1",
        object_type=object_type,
        object_id=object_id,
        first_seen=T0,
        last_seen_run="r1",
        last_seen_at=T0,
        members=pending,
        pending_members=pending,
    )


class CountingStore(FakeHistoryStore):
    """The fake store, noting how many groups each read returned and each settle took."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[int] = []
        self.settles: list[int] = []

    async def containers_with_pending_members(
        self,
        tenant_id: str,
        *,
        after: tuple[ObjectType, str] | None = None,
        limit: int | None = None,
    ) -> list[StoredObject]:
        found = await super().containers_with_pending_members(tenant_id, after=after, limit=limit)
        self.reads.append(len(found))
        return found

    async def settle_pending_members(
        self, tenant_id: str, settled: Mapping[tuple[ObjectType, str], frozenset[str]]
    ) -> None:
        self.settles.append(len(settled))
        await super().settle_pending_members(tenant_id, settled)


async def test_groups_are_checked_a_pass_at_a_time_and_settled_as_it_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(unknown_members, "GROUPS_PER_PASS", 2)
    store = CountingStore()
    for user in ("u1", "u2", "u3"):
        store.objects[("user", user)] = stored("user", user)
    for n, members in enumerate((["u1"], ["u2", "gone"], ["u3"], ["u1", "u2"], ["gone"])):
        store.objects[("group", f"g{n}")] = stored("group", f"g{n}", members)

    check = await check_pending_members(store, "t1", ["user"])

    assert store.reads == [2, 2, 1, 0]  # never more than a pass of groups held
    assert store.settles == [1, 2, 0]
    assert check.unknown == {"gone"}
    assert sorted(g.object_id for g in check.groups) == ["g1", "g4"]
    assert {g: store.objects[("group", g)].pending_members for g in ("g0", "g2", "g3")} == {
        "g0": frozenset(),
        "g2": frozenset(),
        "g3": frozenset(),
    }
    assert store.objects[("group", "g1")].pending_members == {"u2", "gone"}  # the finish's


async def test_nothing_is_read_when_no_member_type_was_checked() -> None:
    store = CountingStore()
    store.objects[("group", "g0")] = stored("group", "g0", ["u1"])

    check = await check_pending_members(store, "t1", [])

    assert (store.reads, check.groups, check.unknown) == ([], [], frozenset())
