"""Request bodies of the REST API, parsed exactly as the services parse them.

The shared request models are the contract; a body is validated strictly from its JSON text
(`"yes"` is not a boolean, a typo'd field is an error), the same way config does. A resource's
id comes from the URL, so PATCH bodies are the shared model without its id field: their OpenAPI
schema is derived from the shared model's, not re-declared.
"""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrasync_console.core.errors import Problem, validation_problem

M = TypeVar("M", bound=BaseModel)
REF = "#/components/schemas/{model}"
NOT_JSON = "the body is not valid JSON"
TOO_DEEP = "the body nests too deeply"


class BodySchemas:
    """JSON schemas of the bodies, merged into the app's OpenAPI document."""

    def __init__(self) -> None:
        self.schemas: dict[str, dict[str, Any]] = {}

    def register(
        self,
        model: type[BaseModel],
        drop: str | None = None,
        name: str = "",
        required: bool = True,
    ) -> dict:
        """The route's `openapi_extra` describing a body of `model` (minus field `drop`)."""
        title = name or model.__name__
        schema = deepcopy(model.model_json_schema(ref_template=REF, mode="validation"))
        definitions = schema.pop("$defs", {})
        if drop is not None:
            schema["properties"].pop(drop, None)
            schema["required"] = [f for f in schema.get("required", []) if f != drop]
            if not schema["required"]:
                del schema["required"]
        schema["title"] = title
        self.schemas.update(definitions)
        self.schemas[title] = schema
        content = {"application/json": {"schema": {"$ref": REF.format(model=title)}}}
        return {"requestBody": {"required": required, "content": content}}

    def merge_into(self, document: dict[str, Any]) -> dict[str, Any]:
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for title, schema in self.schemas.items():
            components.setdefault(title, schema)
        return document


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is a 413, however it is sent.

    A declared `Content-Length` is refused before anything is read; a streamed (chunked) body
    is counted as it arrives. The refusal is raised from `receive`, i.e. inside the route that
    reads the body, so the app's error handlers answer it like any other error (JSON for the
    API, a page for forms) and a route that never reads its body is not disturbed.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if declared.isdigit() and int(declared) > self.limit:
                raise self.too_large()
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise self.too_large()
            return message

        await self.app(scope, limited, send)

    def too_large(self) -> Problem:
        return Problem(413, "too_large", f"the body is larger than {self.limit} bytes")


async def _raw_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise Problem(422, "validation", TOO_DEEP) from None
    except ValueError:  # UnicodeDecodeError and digit-limit errors are ValueErrors too
        raise Problem(422, "validation", NOT_JSON) from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as err:
        raise validation_problem(err) from None
    except RecursionError:  # a nesting json.loads took but the round trip does not
        raise Problem(422, "validation", TOO_DEEP) from None


async def read_body(request: Request, model: type[M], **from_url: Any) -> M:
    """The body as `model`, with the ids the URL carries (which the body may not repeat)."""
    data = await _raw_json(request)
    if from_url:
        if not isinstance(data, dict):
            raise Problem(422, "validation", "the body must be a JSON object")
        for key in from_url:
            if key in data:
                raise Problem(422, "validation", f"{key} comes from the URL", field=key)
        data = {**data, **from_url}
    return parse(model, data)


async def read_optional_body(request: Request, model: type[M], **from_url: Any) -> M:
    """Like `read_body`, but an empty body means `{}`."""
    if not await request.body():
        return parse(model, dict(from_url))
    return await read_body(request, model, **from_url)
