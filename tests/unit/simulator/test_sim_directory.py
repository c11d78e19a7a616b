"""The in-memory directory: membership history, soft-delete edges, restores, batches."""

from __future__ import annotations

import pytest
from entrasync_sim.directory import DirectoryError, TenantDirectory
from entrasync_sim.mutations import BatchError, apply_batch

NOW = "2024-01-01T00:00:00Z"


def test_members_at_reconstructs_past_membership() -> None:
    directory = TenantDirectory()
    a, b = (directory.create("users", {}).id for _ in range(2))
    group = directory.create("groups", {}).id
    directory.change_members(group, [a], [])
    middle = directory.seq
    directory.change_members(group, [b], [a])

    assert set(directory.members_at(group, middle)) == {a}
    assert set(directory.members_at(group, directory.seq)) == {b}
    assert directory.members_changed(group, middle, directory.seq)
    assert not directory.members_changed(group, directory.seq, directory.seq + 5)


def test_soft_deleted_members_are_hidden_and_come_back_on_restore() -> None:
    directory = TenantDirectory()
    user = directory.create("users", {}).id
    group = directory.create("groups", {}).id
    directory.change_members(group, [user], [])
    logged = len(directory.member_log[group])

    directory.delete("users", user)
    hidden = directory.live_members(group)
    directory.restore("users", user)

    assert hidden == []
    assert directory.live_members(group) == [user]
    # The edge never left (delta-query-groups.md): nothing is logged for groups delta.
    assert len(directory.member_log[group]) == logged


UNIFIED = {"groupTypes": ["Unified"], "mailEnabled": True, "securityEnabled": False}
SECURITY = {"groupTypes": [], "mailEnabled": False, "securityEnabled": True}


def test_a_security_group_is_deleted_for_good_and_only_a_microsoft_365_group_is_restorable() -> (
    None
):
    directory = TenantDirectory()
    security = directory.create("groups", dict(SECURITY)).id
    unified = directory.create("groups", dict(UNIFIED)).id

    directory.delete("groups", security)
    directory.delete("groups", unified)

    assert directory.get("groups", security).lifecycle.value == "hard_deleted"  # type: ignore[union-attr]
    assert directory.get("groups", unified).lifecycle.value == "soft_deleted"  # type: ignore[union-attr]
    with pytest.raises(DirectoryError):
        directory.restore("groups", security)
    directory.restore("groups", unified)


def test_a_batch_soft_delete_of_a_security_group_is_a_hard_delete_and_cannot_be_restored() -> None:
    directory = TenantDirectory()
    group = directory.create("groups", dict(SECURITY)).id

    with pytest.raises(BatchError):
        apply_batch(
            directory,
            [
                {"op": "soft_delete", "type": "group", "id": group},
                {"op": "restore", "type": "group", "id": group},
            ],
            NOW,
        )
    apply_batch(directory, [{"op": "soft_delete", "type": "group", "id": group}], NOW)

    assert directory.get("groups", group).lifecycle.value == "hard_deleted"  # type: ignore[union-attr]


def test_a_hard_delete_drops_memberships_with_a_logged_removal() -> None:
    directory = TenantDirectory()
    user = directory.create("users", {}).id
    group = directory.create("groups", {}).id
    directory.change_members(group, [user], [])

    directory.delete("users", user, hard=True)

    assert directory.members[group] == {}
    assert not directory.member_log[group][-1].added


def test_refused_mutations_change_nothing() -> None:
    directory = TenantDirectory()
    group = directory.create("groups", {}).id
    seq = directory.seq

    with pytest.raises(DirectoryError):
        directory.change_members(group, ["00000000-0000-4000-8000-000000000001"], [])
    with pytest.raises(DirectoryError):
        directory.update("users", group, {})

    assert directory.seq == seq


def test_a_batch_is_checked_whole_before_anything_is_applied() -> None:
    directory = TenantDirectory()
    seq = directory.seq

    with pytest.raises(BatchError) as refused:
        apply_batch(
            directory,
            [
                {"op": "create", "type": "user", "attrs": {}},
                {"op": "soft_delete", "type": "user", "id": "$0"},
                {"op": "add_member", "group_id": "$0", "member_id": "$0"},
            ],
            NOW,
        )

    assert refused.value.index == 2
    assert directory.seq == seq and directory.objects["users"] == {}


def test_a_batch_sees_its_own_earlier_operations() -> None:
    directory = TenantDirectory()

    ids = apply_batch(
        directory,
        [
            {"op": "create", "type": "group", "attrs": {"displayName": "G"}},
            {"op": "create", "type": "user", "attrs": {"displayName": "U"}},
            {"op": "add_member", "group_id": "$0", "member_id": "$1"},
            {"op": "soft_delete", "type": "user", "id": "$1"},
            {"op": "restore", "type": "user", "id": "$1"},
            {"op": "hard_delete", "type": "user", "id": "$1"},
        ],
        NOW,
    )

    group, user = ids[0], ids[1]
    assert directory.members[group] == {}
    assert directory.objects["users"][user].lifecycle.value == "hard_deleted"
    assert directory.objects["groups"][group].props["createdDateTime"] == NOW
