"""The choice of object types in the console: Tenant Configuration's checkboxes (labels, the
permission each needs, what a save sends, conflicts) and the CLI's `--types`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from entrasync_console.cli import app
from entrasync_console.cli.common import chosen_types as cli_types
from entrasync_console.core.object_types import TYPE_CHOICES, parse_types, types_shown
from entrasync_console.web.conflicts import base_values, describe, edits, to_save
from entrasync_console.web.pages import chosen_types
from entrasync_console.web.rendering import build_templates
from entrasync_shared.messages import Tenant
from entrasync_shared.subjects import DEFAULT_OBJECT_TYPES, OBJECT_TYPES, READ_PERMISSIONS
from starlette.datastructures import FormData
from typer.testing import CliRunner

LABELS = [
    "Users",
    "Groups",
    "Devices",
    "Service principals",
    "Applications",
    "Directory roles",
    "Administrative units",
    "Contacts",
    "Eligible role assignments",
]
BASE = [
    ("base_profile_id", "p1"),
    ("base_enabled", "true"),
    ("base_full_scan_next", "false"),
    ("base_near_real_time", "false"),
    ("base_object_types", "user,group,device"),
]
POSTED = {"profile_id": "p1", "enabled": True, "full_scan_next": False, "near_real_time": False}
START = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def ticked(*types: str) -> FormData:
    return FormData([*BASE, *((f"object_type_{t}", "on") for t in types)])


def test_every_type_is_offered_with_its_label_and_least_privileged_permission() -> None:
    assert [c.label for c in TYPE_CHOICES] == LABELS
    assert [c.object_type for c in TYPE_CHOICES] == list(OBJECT_TYPES)
    assert [c.permission for c in TYPE_CHOICES] == [READ_PERMISSIONS[t][0] for t in OBJECT_TYPES]
    assert TYPE_CHOICES[3].permission == "Application.Read.All"
    assert TYPE_CHOICES[8].permission == "RoleEligibilitySchedule.Read.Directory"


def test_the_ticked_types_are_read_in_sync_order() -> None:
    form = ticked("servicePrincipal", "user")
    assert chosen_types(form) == ("user", "servicePrincipal")
    assert chosen_types(ticked()) == ()  # the contract refuses it, naming object_types
    assert chosen_types(FormData([("object_type_user", "on")])) is None  # an older tab


def test_adding_a_type_is_an_edit_shown_by_label_in_a_conflict() -> None:
    base = base_values(ticked())
    mine = edits({**POSTED, "object_types": ("user", "group", "device", "servicePrincipal")}, base)
    assert mine == {"object_types": ("user", "group", "device", "servicePrincipal")}
    stored = {**POSTED, "object_types": ("group", "user", "device")}  # another order: no change
    conflict = describe(base, stored, mine, {"p1": "app"})
    assert conflict.theirs == ()
    assert [(c.label, c.was, c.now) for c in conflict.yours] == [
        ("Object types", "Users, Groups, Devices", "Users, Groups, Devices, Service principals")
    ]


def test_a_save_sends_the_types_only_when_they_changed() -> None:
    base = base_values(ticked())
    same = {**POSTED, "object_types": ("user", "group", "device")}
    assert "object_types" not in to_save(same, base)
    more = {**POSTED, "object_types": ("user", "application")}
    assert to_save(more, base)["object_types"] == ("user", "application")
    assert types_shown(()) == "(none)"


def tenant(object_types: tuple[str, ...]) -> Tenant:
    return Tenant.model_validate(
        {
            "id": "t" * 32,
            "name": "Contoso",
            "tenant": "contoso.example.com",
            "cloud": "global",
            "profile_id": "p1",
            "enabled": True,
            "full_scan_next": False,
            "object_types": object_types,
            "interval_seconds": 60,
            "created_at": START,
            "updated_at": START,
        }
    )


def configuration(values: dict[str, Any], errors: dict[str, str] | None = None) -> str:
    page = build_templates().env.get_template("tenant.html")
    return page.render(
        tenant=tenant(DEFAULT_OBJECT_TYPES),
        tab="configuration",
        profiles=[],
        values=values,
        errors=errors or {},
        type_choices=TYPE_CHOICES,
        csrf="c",
    )


def test_tenant_configuration_has_a_labelled_checkbox_per_type_with_its_permission() -> None:
    html = configuration({**POSTED, "object_types": ("user", "servicePrincipal")})

    for choice in TYPE_CHOICES:
        box = f"object_type_{choice.object_type}"
        tag = re.search(rf'<input id="{box}"[^>]*>', html)
        assert tag is not None, box
        assert f'<label for="{box}">{choice.label}</label>' in html
        assert f'id="{box}-permission">Needs {choice.permission}<' in html
        assert f'aria-describedby="{box}-permission object_types-error"' in tag.group()
        assert (" checked" in tag.group()) == (choice.object_type in ("user", "servicePrincipal"))
        stored = choice.object_type in DEFAULT_OBJECT_TYPES
        assert f'data-initial="{"true" if stored else "false"}"' in tag.group()
    assert '<input type="hidden" name="base_object_types" value="user,group,device">' in html


def test_no_type_chosen_shows_the_contracts_error_at_the_choice() -> None:
    error = "at least one object type is required"
    html = configuration({**POSTED, "object_types": ()}, {"object_types": error})

    assert f'<p class="field-error" id="object_types-error">{error}</p>' in html
    fieldset = re.search(r"<fieldset[^>]*>", html)
    assert fieldset is not None and 'aria-invalid="true"' in fieldset.group()


def test_types_text_of_the_cli_takes_graphs_names_in_any_case() -> None:
    assert parse_types("servicePrincipal, user,USER") == ("user", "servicePrincipal")
    assert cli_types("orgcontact") == ("orgContact",)
    assert cli_types(None) is None
    with pytest.raises(ValueError, match="unknown object type 'users'"):
        parse_types("users")
    with pytest.raises(ValueError, match="at least one"):
        parse_types(" , ")


@pytest.mark.parametrize("command", [["tenants", "add", "x.example.com", "--profile", "p"],
                                     ["tenants", "update", "x"]])  # fmt: skip
def test_an_unknown_type_is_refused_before_connecting(command: list[str]) -> None:
    result = CliRunner().invoke(app, ["--nats-url", "nats://127.0.0.1:1", *command, "--types", "x"])

    assert result.exit_code == 2
    assert "unknown object type 'x'" in result.output


def test_the_cli_help_names_every_type() -> None:
    for command in (["tenants", "add"], ["tenants", "update"], ["events", "tail"]):
        result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
        assert result.exit_code == 0
        text = " ".join(result.output.split())
        assert all(t in text for t in OBJECT_TYPES), (command, text)
        assert "group or device" not in text
