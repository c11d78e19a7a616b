"""The AsyncAPI 3.0 document of entrasync, generated from the contract catalog.

Channels, who sends and receives what, and the request-reply endpoints (with their reply
payloads and error codes) come from `catalog`; addresses from `subjects.Names`; payload schemas
from the pydantic models. `python -m entrasync_shared.asyncapi` writes docs/asyncapi.json; a
test fails when the committed document and the code diverge.

Why not FastStream's own generator: each app would document only its own side of a flow (a
publisher in one service, its consumer in another), and the request-reply verbs are wired from
the catalog by `kit.ApiRouter`; the catalog already holds the whole picture in one place.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from entrasync_shared import catalog
from entrasync_shared import messages as m
from entrasync_shared.subjects import OBJECT_TYPES, Names

PARAMETERS: Final = {
    "tenant": {"description": "entrasync tenant policy id"},
    "type": {"enum": list(OBJECT_TYPES)},
    "service": {"enum": ["config", "scheduler", "syncer", "history"]},
}


def _schemas(models: list[type[BaseModel]]) -> tuple[dict[type[BaseModel], Any], Any]:
    refs, defs = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    return {model: refs[(model, "serialization")] for model in models}, defs.get("$defs", {})


def _reply_model(endpoint: catalog.Endpoint[Any, Any]) -> type[BaseModel]:
    """The `Reply` envelope of `endpoint`'s result type, as one model for its schema."""
    return m.Reply[endpoint.reply]  # type: ignore[name-defined]


def build(names: Names | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document as a dict."""
    names = names or Names()
    flow_models = {f.message for f in catalog.FLOWS if f.message is not None}
    api_models = {e.request for e in catalog.ENDPOINTS} | {
        _reply_model(e) for e in catalog.ENDPOINTS
    }
    models = sorted(flow_models | api_models, key=lambda c: c.__name__)
    refs, schemas = _schemas(models)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    def message(model: type[BaseModel] | None) -> str:
        if model is None:
            name, payload = "RawPayload", {"type": "string", "description": "unreadable message"}
        else:
            payload = refs[model]
            name = payload["$ref"].rsplit("/", 1)[1]
        messages[name] = {
            "name": name,
            "contentType": "application/json" if model else "application/octet-stream",
            "payload": payload,
        }
        return name

    for flow in catalog.FLOWS:
        address = flow.address(names)
        name = message(flow.message)
        params = {p: PARAMETERS[p] for p in PARAMETERS if "{" + p + "}" in address}
        channels[flow.name] = {
            "address": address,
            "description": flow.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            **({"parameters": params} if params else {}),
        }
        for role, parties in (("send", flow.publishers), ("receive", flow.consumers)):
            for party in parties:
                operations[f"{party}_{role}_{flow.name}"] = {
                    "action": role,
                    "channel": {"$ref": f"#/channels/{flow.name}"},
                    "summary": f"{party} {role}s {name}",
                }
    for endpoint in catalog.ENDPOINTS:
        _document_endpoint(endpoint, names, channels, operations, message)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "entrasync",
            "version": "0.1.0",
            "description": "Events and commands of entrasync on NATS JetStream. Public events "
            "(directory.*, sync.recorded) are CloudEvents 1.0 JSON on stream ENTRASYNC_EVENTS; "
            "replay from any point with a consumer using DeliverPolicy by sequence or time. "
            "How to consume them (Python, Node.js, Go): docs/consuming-events.md. "
            "Request-reply APIs (`entrasync.api.<service>.<verb>`) answer a `Reply`: `ok` "
            "with a `result`, or an `error` whose `code` is one of: "
            + ", ".join(catalog.ERROR_CODES)
            + ".",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _document_endpoint(
    endpoint: catalog.Endpoint[Any, Any],
    names: Names,
    channels: dict[str, Any],
    operations: dict[str, Any],
    message: Any,
) -> None:
    """One request channel, its reply channel (the caller's inbox) and the receive operation
    of the service with its reply."""
    channel = f"api_{endpoint.service}_{endpoint.verb.replace('.', '_')}"
    request, reply = message(endpoint.request), message(_reply_model(endpoint))
    channels[channel] = {
        "address": endpoint.subject(names),
        "description": endpoint.summary + f" Callers: {', '.join(endpoint.callers)}.",
        "messages": {request: {"$ref": f"#/components/messages/{request}"}},
    }
    channels[channel + "_reply"] = {
        "address": None,
        "description": f"The caller's inbox: the reply to {endpoint.name}.",
        "messages": {reply: {"$ref": f"#/components/messages/{reply}"}},
    }
    operations[f"{endpoint.service}_answer_{channel}"] = {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": endpoint.summary,
        "reply": {"channel": {"$ref": f"#/channels/{channel}_reply"}},
    }


DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
