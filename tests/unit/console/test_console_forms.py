"""Form helpers of the console pages: every missing field at once, what a conflicting save
changed, domains that wrap only between labels."""

from __future__ import annotations

from entrasync_console.web.conflicts import base_values, describe, edits
from entrasync_console.web.rendering import breakable, form_errors, missing_fields
from entrasync_shared.messages import TenantCreate
from pydantic import ValidationError
from starlette.datastructures import FormData

STORED = {"profile_id": "p1", "enabled": False, "full_scan_next": True, "near_real_time": False}
PROFILES = {"p1": "Simulator app", "p2": "Other app"}


def test_a_validation_error_names_every_field_not_only_the_first() -> None:
    try:
        TenantCreate(tenant="not a domain", profile_id="x" * 500)
    except ValidationError as err:
        fields, general = form_errors(err)
    assert set(fields) == {"tenant", "profile_id"} and general is None


def test_missing_fields_are_all_named() -> None:
    required = {"tenant": "Enter the tenant.", "profile_id": "Select a profile."}
    assert missing_fields({"tenant": "", "profile_id": ""}, required) == required
    assert missing_fields({"tenant": "a.com", "profile_id": ""}, required) == {
        "profile_id": "Select a profile."
    }


def test_a_conflict_tells_the_users_edits_from_the_changes_made_meanwhile() -> None:
    form = FormData(
        [
            ("base_profile_id", "p1"),
            ("base_enabled", "false"),
            ("base_full_scan_next", "true"),
            ("base_near_real_time", "false"),
        ]
    )
    base = base_values(form)
    posted = {"profile_id": "p1", "enabled": True, "full_scan_next": True, "near_real_time": False}
    mine = edits(posted, base)
    assert mine == {"enabled": True}  # the stale full-scan tick is not re-applied
    now = {**STORED, "full_scan_next": False}  # the first sync cleared it
    conflict = describe(base, now, mine, PROFILES)
    assert [(c.label, c.was, c.now) for c in conflict.theirs] == [
        ("Perform a full scan on next run", "on", "off")
    ]
    assert [(c.label, c.was, c.now) for c in conflict.yours] == [("Enabled", "Disabled", "Enabled")]


def test_a_form_without_its_base_values_counts_every_field_as_an_edit() -> None:
    assert base_values(FormData([("profile_id", "p2")])) is None
    assert edits(STORED, None) == STORED


def test_domains_may_wrap_after_dots_and_names_stay_escaped() -> None:
    assert str(breakable("a.contoso.com")) == "a.<wbr>contoso.<wbr>com"
    assert str(breakable("<b>x.y</b>")) == "&lt;b&gt;x.<wbr>y&lt;/b&gt;"
