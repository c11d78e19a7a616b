from datetime import UTC, datetime, timedelta

import pytest
from entrasync_shared.messages import ObservationBatch, ObservedObject, Removal
from entrasync_syncer.domain import (
    SELECTS,
    Cursor,
    RetryPolicy,
    batch_id,
    classify,
    full_round_url,
    parse_retry_after,
    plan_type,
)
from entrasync_syncer.domain.ids import IdSet, compact_id
from entrasync_syncer.domain.pages import (
    PageReader,
    _page_weight,
    _weight,
    compact_members,
    split_batch,
)


def user(object_id: str, **attrs: object) -> dict[str, object]:
    return {"@odata.type": "#microsoft.graph.user", "id": object_id, **attrs}


def member(object_id: str, removed: bool = False) -> dict[str, object]:
    change: dict[str, object] = {"@odata.type": "#microsoft.graph.user", "id": object_id}
    if removed:
        change["@removed"] = {"reason": "deleted"}
    return change


def group(object_id: str, *changes: dict[str, object], **attrs: object) -> dict[str, object]:
    return {
        "id": object_id,
        "displayName": object_id.upper(),
        **attrs,
        "members@delta": list(changes),
    }


# -- reading pages ------------------------------------------------------------------------------


def test_a_page_becomes_objects_without_id_and_annotations() -> None:
    reader = PageReader()

    objects, removals = reader.read([user("u1", displayName="Ada", mail=None)])

    assert objects == [ObservedObject(id="u1", attributes={"displayName": "Ada", "mail": None})]
    assert removals == []
    assert reader.total == 1


def test_removed_entries_become_removals_with_their_reason() -> None:
    objects, removals = PageReader().read(
        [
            {"id": "u1", "@removed": {"reason": "changed"}},
            {"id": "u2", "@removed": {"reason": "deleted"}},
            {"id": "u3", "@removed": {}},
        ]
    )

    assert objects == []
    assert removals == [
        Removal(id="u1", reason="changed"),
        Removal(id="u2", reason="deleted"),
        Removal(id="u3", reason="changed"),
    ]


def test_an_object_seen_again_in_the_same_run_is_dropped() -> None:
    reader = PageReader()
    reader.read([user("u1", displayName="Ada")])

    objects, _ = reader.read([user("u1", displayName="Ada"), user("u2")])

    assert [o.id for o in objects] == ["u2"]
    assert reader.total == 2


def test_entries_without_an_id_are_skipped_and_counted() -> None:
    reader = PageReader()

    objects, removals = reader.read([{"displayName": "nobody"}, "junk", user("u1")])

    assert [o.id for o in objects] == ["u1"]
    assert reader.skipped == 2


def test_member_slices_of_a_group_on_one_page_are_merged() -> None:
    objects, _ = PageReader().read(
        [
            group("g1", member("a"), member("b")),
            group("g1", member("c"), member("d", removed=True)),
        ]
    )

    assert objects == [
        ObservedObject(
            id="g1",
            attributes={"displayName": "G1"},
            members_added=("a", "b", "c"),
            members_removed=("d",),
            members_added_types="uuu",
            members_removed_types="u",
        )
    ]


def test_a_group_continuing_on_the_next_page_still_delivers_its_members() -> None:
    reader = PageReader()
    first, _ = reader.read([group("g1", member("a"), member("b"))])

    later, _ = reader.read([group("g1", member("c"), member("x", removed=True)), user("u9")])

    assert first[0].members_added == ("a", "b")
    assert later[0] == ObservedObject(
        id="g1",
        attributes={"displayName": "G1"},
        members_added=("c",),
        members_removed=("x",),
        members_added_types="u",
        members_removed_types="u",
    )
    assert reader.total == 2


def test_a_repeated_group_without_member_changes_is_dropped() -> None:
    reader = PageReader()
    reader.read([group("g1", member("a"))])

    objects, _ = reader.read([{"id": "g1", "displayName": "G1"}])

    assert objects == []


def test_the_last_word_on_a_member_wins() -> None:
    objects, _ = PageReader().read([group("g1", member("a"), member("a", removed=True))])

    assert objects[0].members_added == ()
    assert objects[0].members_removed == ("a",)


def test_reset_forgets_what_was_seen() -> None:
    reader = PageReader()
    reader.read([user("u1")])

    reader.reset()
    objects, _ = reader.read([user("u1")])

    assert [o.id for o in objects] == ["u1"]


# -- requests, modes, ids -----------------------------------------------------------------------


def test_a_full_round_selects_the_tracked_attributes() -> None:
    url = full_round_url("https://graph.example/", "group")

    assert url == (
        "https://graph.example/v1.0/groups/delta"
        "?$select=id,displayName,description,mail,mailEnabled,securityEnabled,groupTypes,members"
    )
    assert "accountEnabled" in SELECTS["user"] and "userType" in SELECTS["user"]


NOW = datetime(2026, 6, 1, tzinfo=UTC)
LINK = "https://g.test/v1.0/users/delta?$deltatoken=abc"


def plan(mode: str, cursor: Cursor | None, scope: str = "") -> tuple[str, str, str]:
    found = plan_type(
        mode,  # type: ignore[arg-type]
        "schedule",
        cursor,
        object_type="user",
        graph_url="https://g.test",
        scope=scope,
        now=NOW,
    )
    return found.mode, found.reason, found.url


@pytest.mark.parametrize(
    ("mode", "cursor", "expected"),
    [
        ("full", None, ("full", "schedule")),
        ("full", Cursor(LINK, NOW), ("full", "schedule")),
        ("delta", Cursor(LINK, NOW), ("delta", "schedule")),
        ("delta", None, ("full", "resync")),
    ],
)
def test_a_delta_without_cursor_is_a_full_resync(
    mode: str, cursor: Cursor | None, expected: tuple[str, str]
) -> None:
    assert plan(mode, cursor)[:2] == expected


def test_a_delta_starts_from_the_stored_link() -> None:
    assert plan("delta", Cursor(LINK, NOW - timedelta(days=6)))[2] == LINK


@pytest.mark.parametrize(
    "cursor",
    [
        Cursor(LINK, NOW - timedelta(days=7)),
        Cursor("https://g.test/v1.0/groups/delta?$deltatoken=abc", NOW),
        Cursor("https://g.test/v1.0/users?$skiptoken=abc", NOW),
        Cursor(LINK, NOW, scope="other-filters"),
    ],
    ids=["expired", "other resource", "not a delta link", "other filters"],
)
def test_an_unusable_link_is_not_even_tried(cursor: Cursor) -> None:
    mode, reason, url = plan("delta", cursor)

    assert (mode, reason) == ("full", "resync")
    assert url == full_round_url("https://g.test", "user")


@pytest.mark.parametrize("path", ["users/delta()", "users/microsoft.graph.delta()"])
def test_every_spelling_of_delta_is_a_delta_link(path: str) -> None:
    link = f"https://g.test/v1.0/{path}?$deltatoken=x"

    assert plan("delta", Cursor(link, NOW))[:2] == ("delta", "schedule")


def test_the_filters_the_link_was_read_under_must_match() -> None:
    assert plan("delta", Cursor(LINK, NOW, scope="s1"), scope="s1")[0] == "delta"
    assert plan("delta", Cursor(LINK, NOW), scope="s1")[0] == "full"


def test_guid_ids_are_remembered_compactly_and_exactly() -> None:
    guid = "0f8fad5b-d9cb-469f-a165-70867728950e"

    assert compact_id(guid) == int(guid.replace("-", ""), 16)
    assert compact_id(guid.upper()) == guid.upper()
    assert compact_id("not-a-guid") == "not-a-guid"
    assert compact_id("0f8fad5b_d9cb_469f_a165_70867728950e") != compact_id(guid)


def test_batch_ids_are_stable_and_distinct_per_delivery_attempt() -> None:
    assert batch_id("r1", "user", 3) == "r1:user:3"
    assert batch_id("r1", "user", 3, attempt=1) == "r1:user:3"
    assert batch_id("r1", "user", 3, attempt=2) == "r1:user:3:a2"


# -- responses and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message", "verdict"),
    [
        (200, "", "", "ok"),
        (429, "TooManyRequests", "", "retry"),
        (503, "", "", "retry"),
        (504, "", "", "retry"),
        (401, "InvalidAuthenticationToken", "", "reauth"),
        (410, "", "Gone", "resync"),
        (400, "syncStateNotFound", "", "resync"),
        (400, "SYNCSTATENOTFOUND", "", "resync"),
        (400, "resyncRequired", "", "resync"),
        (400, "badRequest", "Badly formed token.", "resync"),
        (400, "BadRequest", "Could not find a property named 'x'.", "fail"),
        (403, "Authorization_RequestDenied", "", "fail"),
        (404, "", "", "fail"),
    ],
)
def test_responses_are_classified(status: int, code: str, message: str, verdict: str) -> None:
    assert classify(status, code, message) == verdict


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2.128", 2.128),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("Wed, 01 Jan 2025 00:00:30 GMT", 30.0),
    ],
)
def test_retry_after_is_parsed(header: str | None, seconds: float | None) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)

    assert parse_retry_after(header, now=now) == seconds


def test_retry_after_is_honoured_in_full_up_to_the_configured_maximum() -> None:
    policy = RetryPolicy(max_retry_after=300)

    assert policy.delay(1, 2.128) == 2.128
    assert policy.delay(1, 45) == 45  # longer than 30 s: waited out, not cut short
    assert not policy.too_long(300) and not policy.too_long(None)
    assert policy.too_long(300.5)


def test_without_retry_after_backoff_grows_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_cap=8)

    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = {policy.delay(attempt, None) for _ in range(20)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1


def test_a_request_gives_up_after_its_attempts_or_its_waiting_budget() -> None:
    policy = RetryPolicy(max_attempts=5, budget_seconds=10)

    assert not policy.gives_up(1, waited=0, wait=2.128)
    assert policy.gives_up(5, waited=0, wait=1)
    assert policy.gives_up(2, waited=9, wait=2)


# -- batches that fit a NATS message ------------------------------------------------------------


def guid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-{n:012x}"


def test_a_page_of_big_groups_is_cut_into_batches_below_the_size_limit() -> None:
    groups = [
        ObservedObject(
            id=guid(g),
            attributes={"displayName": f"Group {g}", "description": "é" * 50},
            members_added=tuple(guid(1000 * g + m) for m in range(500)),
        )
        for g in range(40)
    ]
    removals = [Removal(id=guid(9000 + n), reason="deleted") for n in range(10)]

    batches = split_batch(groups, removals, max_bytes=100_000)

    assert len(batches) > 1
    assert [o for b, _ in batches for o in b] == groups
    assert [r for _, rs in batches for r in rs] == removals
    for objects, removed in batches:
        size = len(ObservationBatch(
            run_id="r", tenant_id="t", object_type="group", seq=0, mode="full",
            objects=tuple(objects), removals=tuple(removed),
        ).model_dump_json().encode())  # fmt: skip
        assert size <= 100_000


def test_attribute_heavy_objects_with_escapes_stay_below_the_size_limit() -> None:
    users = [
        ObservedObject(
            id=guid(n),
            attributes={
                "displayName": 'Quote " back \\ slash \x01 tab\t ' + "ß😀" * 20,
                "jobTitle": None,
                "businessPhones": ["+1 555 0100"] * 5,
                "accountEnabled": True,
            },
        )
        for n in range(300)
    ]

    batches = split_batch(users, [], max_bytes=20_000)

    assert len(batches) > 1
    assert [o for b, _ in batches for o in b] == users
    for objects, _ in batches:
        size = len(ObservationBatch(
            run_id="r", tenant_id="t", object_type="user", seq=0, mode="full",
            objects=tuple(objects),
        ).model_dump_json().encode())  # fmt: skip
        assert size <= 20_000


def test_a_giant_group_is_cut_into_several_observations_of_the_same_group() -> None:
    added = tuple(guid(n) for n in range(12_000))
    removed = tuple(guid(50_000 + n) for n in range(100))
    giant = ObservedObject(
        id="g", attributes={"displayName": "All"}, members_added=added, members_removed=removed
    )

    batches = split_batch([giant], [], max_bytes=512 * 1024, max_members=5000)

    pieces = [o for objects, _ in batches for o in objects]
    assert len(pieces) == 3 and {p.id for p in pieces} == {"g"}
    assert all(p.attributes == {"displayName": "All"} for p in pieces)
    assert sum((p.members_added for p in pieces), ()) == added
    assert sum((p.members_removed for p in pieces), ()) == removed


def test_a_small_page_stays_one_batch() -> None:
    objects = [ObservedObject(id=guid(n), attributes={"displayName": "x"}) for n in range(200)]

    assert split_batch(objects, [], max_bytes=512 * 1024) == [(objects, [])]


def test_the_page_weight_never_undercuts_the_objects_weights() -> None:
    # A page whose `_page_weight` fits is published as one batch without weighing each object.
    objects = [
        ObservedObject(
            id=guid(n),
            attributes={"displayName": 'é"' * n, "n": n, "tags": ["a"] * (n % 7)},
            members_added=tuple(guid(1000 + m) for m in range(n % 5)),
            members_removed=tuple(guid(2000 + m) for m in range(n % 3)),
        )
        for n in range(50)
    ]
    removals = [Removal(id=guid(3000 + n), reason="deleted") for n in range(10)]

    each = sum(_weight(o) for o in objects) + sum(len(r.id) + 48 for r in removals)
    assert _page_weight(objects, removals) >= each
    whole = _page_weight(objects, removals)
    assert split_batch(objects, removals, max_bytes=whole) == [(objects, removals)]
    assert len(split_batch(objects, removals, max_bytes=whole // 3)) > 1


def test_plain_entries_become_their_own_attributes_and_annotated_ones_are_cleaned() -> None:
    plain = {"id": "u1", "displayName": "Ada"}
    annotated = {"id": "u2", "@odata.type": "#microsoft.graph.user", "manager@delta": [{}], "x": 1}

    objects, _ = PageReader().read([plain, annotated])

    assert [o.attributes for o in objects] == [{"displayName": "Ada"}, {"x": 1}]


def test_compacted_member_slices_read_exactly_like_the_parsed_ones() -> None:
    def page() -> list[dict[str, object]]:
        return [
            group("g1", member("a"), member("b")),
            group("g2", member("x"), member("y", removed=True)),
            group("g1", member("a", removed=True), member("c")),
            group("g1", member("a"), member("d")),
            {"id": "g3", "members@delta": [{"id": 7}, {"id": "z"}]},
        ]

    compacted = page()
    compact_members(compacted)

    assert [type(e["members@delta"]).__name__ for e in compacted] == [
        "AddedIds", "list", "list", "AddedIds", "list",
    ]  # fmt: skip
    assert PageReader().read(compacted) == PageReader().read(page())
    (g1, _, _), _ = PageReader().read(compacted)
    assert g1.members_added == ("b", "c", "a", "d") and g1.members_removed == ()


def test_an_id_set_is_exact_and_grows() -> None:
    ids = [guid(n) for n in range(1, 5000)] + ["not-a-guid", guid(0)]
    seen = IdSet()

    assert all(seen.add(i) for i in ids)
    assert not any(seen.add(i) for i in ids)
    assert len(seen) == len(ids) and all(i in seen for i in ids)
    assert guid(9999) not in seen and "other" not in seen
    seen.clear()
    assert len(seen) == 0 and ids[0] not in seen


def test_garbled_member_references_are_skipped_and_the_rest_kept_in_order() -> None:
    clean = {"id": "g1", "members@delta": [{"id": "a"}, {"id": "b"}, {"id": "a"}]}
    garbled = {
        "id": "g2",
        "members@delta": [{"id": "a"}, "b", {"id": 7}, {"name": "no id"}, [], {"id": "c"}],
    }

    objects, _ = PageReader().read([clean, garbled])

    assert [(o.id, o.members_added) for o in objects] == [("g1", ("a", "b")), ("g2", ("a", "c"))]
