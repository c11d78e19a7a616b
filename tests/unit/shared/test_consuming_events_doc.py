"""docs/consuming-events.md stays true: its field tables match the models, its sample event
validates, its code excerpts are verbatim from the tested examples, its links resolve."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from entrasync_shared import messages as m
from pydantic import BaseModel

DOCS = Path(__file__).resolve().parents[3] / "docs"
GUIDE = DOCS / "consuming-events.md"
MODELS: dict[str, type[BaseModel]] = {
    "CloudEvent": m.CloudEvent[m.ObjectCreated],
    "ObjectCreated": m.ObjectCreated,
    "ObjectUpdated": m.ObjectUpdated,
    "ObjectDeleted": m.ObjectDeleted,
    "MembersChanged": m.MembersChanged,
    "EffectiveChanged": m.EffectiveChanged,
    "EffectiveMembershipChange": m.EffectiveMembershipChange,
    "SyncRecorded": m.SyncRecorded,
    "TypeCounts": m.TypeCounts,
}
DATA = {
    "created": m.ObjectCreated,
    "updated": m.ObjectUpdated,
    "deleted": m.ObjectDeleted,
    "members_changed": m.MembersChanged,
}


def marked_blocks(marker: str) -> list[tuple[str, str]]:
    """(argument, the code block or table that follows) for each `<!-- marker: x -->`."""
    text = GUIDE.read_text()
    found = []
    for match in re.finditer(rf"<!-- {marker}: (\S+) -->\n", text):
        rest = text[match.end() :]
        if rest.startswith("```"):
            body = rest.split("\n", 1)[1].split("\n```\n", 1)[0] + "\n"
        else:
            body = rest.split("\n\n", 1)[0]
        found.append((match.group(1), body))
    return found


def test_every_field_table_lists_exactly_the_models_fields() -> None:
    tables = dict(marked_blocks("fields"))
    assert set(tables) == set(MODELS)
    for name, table in tables.items():
        listed = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
        assert listed == list(MODELS[name].model_fields), name


@pytest.mark.parametrize(("source", "excerpt"), marked_blocks("excerpt"))
def test_code_excerpts_are_verbatim_from_the_tested_examples(source: str, excerpt: str) -> None:
    assert excerpt.strip() and excerpt in (DOCS / source).read_text(), source


def test_the_sample_event_is_a_valid_envelope_with_the_extension() -> None:
    (sample,) = re.findall(r"```json\n(.*?)\n```", GUIDE.read_text(), flags=re.DOTALL)
    event = json.loads(sample)
    model = DATA[event["type"].rsplit(".", 1)[1]]
    envelope = m.CloudEvent[model].model_validate(event)  # type: ignore[valid-type]
    assert envelope.entratenantid == event["entratenantid"]
    assert json.loads(envelope.model_dump_json()).keys() == event.keys()


def test_every_relative_link_resolves() -> None:
    links = re.findall(r"\]\(([^)#:]+)\)", GUIDE.read_text())
    assert links
    assert [link for link in links if not (DOCS / link).exists()] == []
