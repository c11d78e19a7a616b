from datetime import UTC, datetime

import pytest
from entrasync_shared.messages import ObservedObject, Removal
from entrasync_syncer.domain import (
    SELECTS,
    PageReader,
    RetryPolicy,
    batch_id,
    classify,
    full_round_url,
    parse_retry_after,
    plan_type,
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
        )
    ]


def test_a_group_continuing_on_the_next_page_still_delivers_its_members() -> None:
    reader = PageReader()
    first, _ = reader.read([group("g1", member("a"), member("b"))])

    later, _ = reader.read([group("g1", member("c"), member("x", removed=True)), user("u9")])

    assert first[0].members_added == ("a", "b")
    assert later[0] == ObservedObject(
        id="g1", attributes={"displayName": "G1"}, members_added=("c",), members_removed=("x",)
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


@pytest.mark.parametrize(
    ("mode", "has_cursor", "expected"),
    [
        ("full", False, ("full", "schedule")),
        ("full", True, ("full", "schedule")),
        ("delta", True, ("delta", "schedule")),
        ("delta", False, ("full", "resync")),
    ],
)
def test_a_delta_without_cursor_is_a_full_resync(
    mode: str, has_cursor: bool, expected: tuple[str, str]
) -> None:
    assert plan_type(mode, "schedule", has_cursor) == expected  # type: ignore[arg-type]


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


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(retry_after_cap=30)

    assert policy.delay(1, 2.128) == 2.128
    assert policy.delay(1, 3600) == 30


def test_without_retry_after_backoff_grows_with_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_cap=8)

    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = {policy.delay(attempt, None) for _ in range(20)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1
