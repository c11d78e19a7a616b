"""Typed member references: a group's members are users, groups, devices, service principals
and organisational contacts (group-delta.md: `members@delta` items carry `@odata.type`).

On the internal pipeline a member's type travels as a one-letter code (`MEMBER_CODES`), one per
member, in a string parallel to the member ids: a big group's 12k members then cost 12 kB more,
not 12k small objects. Everywhere public (events, the history API) a member is a `MemberRef`.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

MemberType = Literal["user", "group", "device", "servicePrincipal", "orgContact", "unknown"]
"""What a member is; `unknown` for a member stored before entrasync kept types, or of a type
Graph added that entrasync does not know yet."""

MEMBER_CODES: Final[dict[str, MemberType]] = {
    "u": "user",
    "g": "group",
    "d": "device",
    "s": "servicePrincipal",
    "c": "orgContact",
    "?": "unknown",
}
"""The pipeline's one-letter code of each member type."""

CODE_OF: Final[dict[MemberType, str]] = {name: code for code, name in MEMBER_CODES.items()}

ODATA_CODES: Final[dict[str, str]] = {
    f"#microsoft.graph.{name}": code for code, name in MEMBER_CODES.items() if code != "?"
}
"""The one-letter code of each `@odata.type` a member can carry (look up others as "?")."""


def member_code(odata_type: object) -> str:
    """The one-letter code of a `members@delta` item's `@odata.type` ("?" when unknown)."""
    return ODATA_CODES.get(odata_type, "?") if type(odata_type) is str else "?"


def member_type(code: str) -> MemberType:
    """The member type a one-letter code names (`unknown` for anything else)."""
    return MEMBER_CODES.get(code, "unknown")


class MemberRef(BaseModel):
    """One member of a group: its type and its Graph object id."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: MemberType
    id: str
