"""Shared pieces of the REST API: the `/api/v1` router, path/query types, body schemas."""

from __future__ import annotations

from typing import Annotated, Any

from entrasync_shared.messages import MAX_SEARCH, Model
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError

from entrasync_console.api import bodies
from entrasync_console.core.errors import ERROR_RESPONSES, validation_problem
from entrasync_console.core.security import api_principal, console
from entrasync_console.ports import Services

ID_PATTERN = r"^[A-Za-z0-9_-]+$"

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
Search = Annotated[str, Query(max_length=MAX_SEARCH, description="Literal text to look for")]
Version = Annotated[
    int | None, Query(ge=1, description="Refuse (409) unless this is the current version")
]

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_principal)], responses=ERROR_RESPONSES
)
schemas = bodies.BodySchemas()


class Me(Model):
    name: str
    via: str


def services(request: Request) -> Services:
    return console(request).services


def build(model: type[bodies.M], **values: Any) -> bodies.M:
    """A shared request model from query/path values; its refusals are 422 naming the field."""
    try:
        return model(**values)
    except ValidationError as err:
        raise validation_problem(err) from None
