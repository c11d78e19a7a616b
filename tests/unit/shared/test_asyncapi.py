import json

from entrasync_shared import asyncapi, catalog, messages
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
        if channel["address"] is None or channel["address"].startswith("entrasync.api."):
            continue  # request-reply: core NATS, no stream
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


def test_directory_channels_say_in_plain_words_what_changed() -> None:
    channels = json.loads(asyncapi.render())["channels"]
    texts = {
        kind: channels[f"directory_{kind}"]["description"]
        for kind in ("created", "updated", "deleted", "members_changed")
    }
    assert "members of a group changed" in texts["members_changed"]
    assert not [text for text in texts.values() if "was members changed" in text]
    assert len(set(texts.values())) == len(texts)


def test_every_public_event_declares_the_entratenantid_extension() -> None:
    schemas = json.loads(asyncapi.render())["components"]["schemas"]
    envelopes = {name: schema for name, schema in schemas.items() if name.startswith("CloudEvent")}
    # four directory changes, effective_changed and sync.recorded
    assert len(envelopes) == 6
    for name, schema in envelopes.items():
        extension = schema["properties"]["entratenantid"]
        assert extension["type"] == "string" and "null" not in json.dumps(extension), name
        assert "entratenantid" not in schema.get("required", []), name


def test_every_endpoint_is_documented_with_its_reply() -> None:
    document = json.loads(asyncapi.render())
    addresses = {channel["address"] for channel in document["channels"].values()}
    for endpoint in catalog.ENDPOINTS:
        assert endpoint.subject(Names()) in addresses, endpoint.name
    answers = [op for op in document["operations"].values() if "reply" in op]
    assert len(answers) == len(catalog.ENDPOINTS)
    assert "validation, not_found" in document["info"]["description"]
