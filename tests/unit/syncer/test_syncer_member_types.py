"""Group members keep their type from `members@delta` to the observation batch (issue 17.4)."""

from entrasync_shared.members import member_type
from entrasync_shared.messages import ObservedObject
from entrasync_syncer.domain.pages import PageReader, compact_members, split_batch

SP, CONTACT, USER, DEVICE, GROUP = (
    "#microsoft.graph.servicePrincipal",
    "#microsoft.graph.orgContact",
    "#microsoft.graph.user",
    "#microsoft.graph.device",
    "#microsoft.graph.group",
)


def ref(odata_type: str, object_id: str, removed: bool = False) -> dict[str, object]:
    item: dict[str, object] = {"@odata.type": odata_type, "id": object_id}
    if removed:
        item["@removed"] = {"reason": "deleted"}
    return item


def typed(obj: ObservedObject) -> tuple[dict[str, str], dict[str, str]]:
    def pairs(ids: tuple[str, ...], codes: str) -> dict[str, str]:
        return {m: member_type(c) for m, c in zip(ids, codes, strict=True)}

    return (
        pairs(obj.members_added, obj.members_added_types),
        pairs(obj.members_removed, obj.members_removed_types),
    )


def test_every_member_type_of_a_full_round_slice_is_kept_after_compaction() -> None:
    entries: list[object] = [
        {
            "id": "g1",
            "displayName": "G1",
            "members@delta": [
                ref(USER, "u1"),
                ref(SP, "sp1"),
                ref(CONTACT, "c1"),
                ref(DEVICE, "d1"),
                ref(GROUP, "g0"),
                ref("#microsoft.graph.somethingNew", "x1"),
            ],
        }
    ]
    compact_members(entries)

    objects, _ = PageReader().read(entries)

    assert typed(objects[0]) == (
        {
            "u1": "user",
            "sp1": "servicePrincipal",
            "c1": "orgContact",
            "d1": "device",
            "g0": "group",
            "x1": "unknown",
        },
        {},
    )


def test_delta_additions_and_removals_keep_their_types() -> None:
    entries: list[object] = [
        {"id": "g1", "members@delta": [ref(SP, "sp1"), ref(CONTACT, "c1", removed=True)]},
        {"id": "g1", "members@delta": [ref(USER, "u1", removed=True)]},
    ]
    compact_members(entries)

    objects, _ = PageReader().read(entries)

    assert typed(objects[0]) == (
        {"sp1": "servicePrincipal"},
        {"c1": "orgContact", "u1": "user"},
    )


def test_a_big_group_cut_into_pieces_keeps_each_members_type() -> None:
    added = tuple(f"m{n:05d}" for n in range(12))
    group = ObservedObject(
        id="g1",
        members_added=added,
        members_removed=("gone",),
        members_added_types="us" * 6,
        members_removed_types="c",
    )

    batches = split_batch([group], [], max_bytes=1_000_000, max_members=5)

    pieces = [obj for objects, _ in batches for obj in objects]
    assert len(pieces) == 3
    merged_added: dict[str, str] = {}
    merged_removed: dict[str, str] = {}
    for piece in pieces:
        adds, removes = typed(piece)
        merged_added |= adds
        merged_removed |= removes
    assert merged_added == typed(group)[0]
    assert merged_removed == {"gone": "orgContact"}
