"""The AsyncAPI 3.0 document of entrasync, generated from the code that defines the contracts.

Channels come from `subjects.Names`, payload schemas from the pydantic models in `messages`, and
who sends/receives what from `FLOWS` below. `python -m entrasync_shared.asyncapi` writes
docs/asyncapi.json; a test fails when the committed document and the code diverge.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from entrasync_shared import messages as m
from entrasync_shared.subjects import Names

TENANT, TYPE, SERVICE = "{tenant}", "{type}", "{service}"

# channel id → (address, payload model or None for raw bytes, senders, receivers, description)
Flow = tuple[str, type[BaseModel] | None, tuple[str, ...], tuple[str, ...], str]


CHANGES: Final = {
    "created": "a user, group or device appeared in the directory (`data.attributes`).",
    "updated": "attributes of a user, group or device changed (`data.changed` holds the new "
    "values), or a soft-deleted one was restored (`data.restored`).",
    "deleted": "a user, group or device was deleted from the directory (`data.soft`: it can "
    "still be restored in Entra).",
    "members_changed": "the members of a group changed (`data.added`, `data.removed`: member "
    "object ids).",
}
"""What each directory change event says, in the words of the channel descriptions."""


def flows(names: Names) -> dict[str, Flow]:
    n = names
    events: dict[str, Flow] = {
        "tenantCreated": (
            n.tenant_event("created"),
            m.TenantCreated,
            ("config",),
            ("scheduler",),
            "A tenant sync policy was created.",
        ),
        "tenantUpdated": (
            n.tenant_event("updated"),
            m.TenantUpdated,
            ("config",),
            ("scheduler",),
            "A tenant sync policy changed (new version).",
        ),
        "tenantDeleted": (
            n.tenant_event("deleted"),
            m.TenantDeleted,
            ("config",),
            ("scheduler",),
            "A tenant sync policy was deleted; syncing stops.",
        ),
        "profileCreated": (
            n.profile_event("created"),
            m.ProfileCreated,
            ("config",),
            (),
            "A credential profile was created (never with its secret).",
        ),
        "profileUpdated": (
            n.profile_event("updated"),
            m.ProfileUpdated,
            ("config",),
            (),
            "A credential profile changed (never with its secret).",
        ),
        "profileDeleted": (
            n.profile_event("deleted"),
            m.ProfileDeleted,
            ("config",),
            (),
            "A credential profile was deleted.",
        ),
        "startSync": (
            n.sync_command(TENANT),
            m.StartSync,
            ("scheduler",),
            ("syncer",),
            "Work queue: read one tenant now. Nats-Msg-Id = tenant + time slot.",
        ),
        "syncStarted": (
            n.run_event(TENANT, "started"),
            m.SyncStarted,
            ("syncer",),
            ("history",),
            "A syncer began a run.",
        ),
        "observed": (
            n.observed(TENANT, TYPE),
            m.ObservationBatch,
            ("syncer",),
            ("history",),  # type: ignore[arg-type]
            "One page of observations of one object type.",
        ),
        "syncFinished": (
            n.run_event(TENANT, "finished"),
            m.SyncFinished,
            ("syncer",),
            ("history",),
            "A run ended, with per-type results.",
        ),
        "syncRecorded": (
            n.sync_recorded(TENANT),
            m.SyncRecordedEvent,
            ("history",),
            ("config", "scheduler", "anyone"),
            "CloudEvent: a run and its Sync History rows were recorded.",
        ),
        "deadLetter": (
            n.dead_letter(SERVICE),
            None,
            ("config", "scheduler", "syncer", "history"),
            ("operators",),
            "A message a service could not read, with its reason.",
        ),
    }
    for kind, model in (
        ("created", m.CloudEvent[m.ObjectCreated]),
        ("updated", m.CloudEvent[m.ObjectUpdated]),
        ("deleted", m.CloudEvent[m.ObjectDeleted]),
        ("members_changed", m.CloudEvent[m.MembersChanged]),
    ):
        events[f"directory_{kind}"] = (
            n.directory_event(TENANT, TYPE, kind),  # type: ignore[arg-type]
            model, ("history",), ("anyone",),
            f"CloudEvent: {CHANGES[kind]} Real changes only; id = Nats-Msg-Id, stable across "
            "redeliveries; `entratenantid` = the directory's GUID.",
        )  # fmt: skip
    return events


PARAMETERS: Final = {
    "tenant": {"description": "entrasync tenant policy id"},
    "type": {"enum": ["user", "group", "device"]},
    "service": {"enum": ["config", "scheduler", "syncer", "history"]},
}


def build(names: Names | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document as a dict."""
    names = names or Names()
    table = flows(names)
    models = sorted({f[1] for f in table.values() if f[1] is not None}, key=lambda c: c.__name__)
    refs, defs = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel_id, (address, model, senders, receivers, text) in table.items():
        if model is None:
            name, payload = "RawPayload", {"type": "string", "description": "unreadable message"}
        else:
            payload = refs[(model, "serialization")]
            name = payload["$ref"].rsplit("/", 1)[1]
        messages[name] = {
            "name": name,
            "contentType": "application/json" if model else "application/octet-stream",
            "payload": payload,
        }
        params = {p: PARAMETERS[p] for p in PARAMETERS if "{" + p + "}" in address}
        channels[channel_id] = {
            "address": address,
            "description": text,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            **({"parameters": params} if params else {}),
        }
        for role, services in (("send", senders), ("receive", receivers)):
            for service in services:
                operations[f"{service}_{role}_{channel_id}"] = {
                    "action": role,
                    "channel": {"$ref": f"#/channels/{channel_id}"},
                    "summary": f"{service} {role}s {name}",
                }
    schemas = defs.get("$defs", {})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "entrasync",
            "version": "0.1.0",
            "description": "Events and commands of entrasync on NATS JetStream. Public events "
            "(directory.*, sync.recorded) are CloudEvents 1.0 JSON on stream ENTRASYNC_EVENTS; "
            "replay from any point with a consumer using DeliverPolicy by sequence or time. "
            "How to consume them (Python, Node.js, Go): docs/consuming-events.md.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
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
