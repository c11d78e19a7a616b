import json

from entrasync_shared import asyncapi, messages
from entrasync_shared.subjects import Names


def test_the_committed_asyncapi_document_matches_the_code() -> None:
    assert asyncapi.DOCUMENT.read_text() == asyncapi.render(), (
        "docs/asyncapi.json is stale: run `uv run python -m entrasync_shared.asyncapi`"
    )


def test_every_event_and_command_model_has_a_channel() -> None:
    document = json.loads(asyncapi.render())
    schemas = set(document["components"]["schemas"])
    bus_models = [
        value.__name__
        for value in vars(messages).values()
        if isinstance(value, type)
        and issubclass(value, messages.Message)
        and value is not messages.Message
    ]
    assert bus_models and set(bus_models) <= schemas


def test_every_message_reference_resolves() -> None:
    document = json.loads(asyncapi.render())
    components = document["components"]
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            message = components["messages"][ref["$ref"].rsplit("/", 1)[1]]
            payload_ref = message["payload"].get("$ref")
            if payload_ref:
                assert payload_ref.rsplit("/", 1)[1] in components["schemas"]


def test_channels_fall_inside_the_declared_streams() -> None:
    names = Names()
    stream_subjects = [s for spec in names.streams() for s in spec.subjects]
    for channel in json.loads(asyncapi.render())["channels"].values():
        tokens = channel["address"].split(".")
        assert any(_matches(pattern.split("."), tokens) for pattern in stream_subjects), channel


def _matches(pattern: list[str], tokens: list[str]) -> bool:
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (
            part != "*" and part != tokens[i] and not tokens[i].startswith("{")
        ):
            return False
    return len(pattern) == len(tokens)
