"""docs/consuming-events.md names every type history publishes events of (issue 20): each object
type of the subjects, and each container type as a `members_changed` object type."""

from pathlib import Path

from entrasync_shared.subjects import CONTAINER_TYPES, OBJECT_TYPES

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "consuming-events.md"


def test_the_events_guide_names_every_object_type_and_every_container() -> None:
    text = GUIDE.read_text()
    subjects = text.split("`<type>` is Graph's", 1)[1].split("Useful filter", 1)[0]
    assert [t for t in OBJECT_TYPES if f"`{t}`" not in subjects] == []
    members = text.split("<!-- fields: MembersChanged -->", 1)[1].split("\n\n", 1)[0]
    [object_type] = [line for line in members.splitlines() if line.startswith("| `object_type`")]
    assert [t for t in CONTAINER_TYPES if f"`{t}`" not in object_type] == []
