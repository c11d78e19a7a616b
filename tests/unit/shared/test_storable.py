"""`unstorable`: what MongoDB refuses is named before a write fails; the rest passes."""

from __future__ import annotations

import json
from typing import Any

import bson
import pytest
from entrasync_shared.storable import INT64_MAX, INT64_MIN, MAX_DEPTH, unstorable


def nested(levels: int) -> Any:
    """A value `levels` containers deep (a list counts as one level)."""
    return json.loads("[" * levels + "]" * levels)


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"displayName": "Ada", "accountEnabled": True, "n": 3, "ratio": 0.5, "manager": None},
        {"$where": 1, "a.b": 2, "": 3},  # stored as-is by MongoDB 5.0+ in replacement documents
        {"note": "a\x00b"},  # a NUL inside a string value is fine (BSON strings carry a length)
        {"big": INT64_MAX, "small": INT64_MIN},
        {"licenses": [{"skuId": "x", "disabledPlans": []}], "phones": ["+1 555"]},
        {"deep": nested(MAX_DEPTH - 1)},
    ],
)
def test_what_mongodb_stores_passes(attributes: dict[str, Any]) -> None:
    assert unstorable(attributes) is None
    bson.encode({"attributes": attributes})  # and PyMongo agrees


@pytest.mark.parametrize(
    ("attributes", "problem"),
    [
        ({"a\x00b": 1}, "key 'a\\x00b' holds a NUL character"),
        ({"ext": {"x": [{"k\x00": 1}]}}, "at ext.x.0: key 'k\\x00' holds a NUL character"),
        ({"n": INT64_MAX + 1}, "at n: integer 9223372036854775808 exceeds 64 bits"),
        ({"ns": [1, INT64_MIN - 1]}, "at ns.1: integer -9223372036854775809 exceeds 64 bits"),
        ({"deep": nested(MAX_DEPTH)}, f"nested deeper than {MAX_DEPTH} levels"),
        ({"raw": b"bytes"}, "at raw: bytes is not a JSON value"),
        ({"odd\nkey.x": {"\x00": 1}}, "at 'odd\\nkey.x': key '\\x00' holds a NUL character"),
    ],
)
def test_what_mongodb_refuses_is_named_with_where(attributes: dict[str, Any], problem: str) -> None:
    found = unstorable(attributes)

    assert found is not None and found.endswith(problem)
    assert found.isprintable()  # safe in a log line or a header


def test_pymongo_refuses_the_nul_key_and_the_wide_integer() -> None:
    with pytest.raises(bson.errors.InvalidDocument):
        bson.encode({"attributes": {"a\x00b": 1}})
    with pytest.raises(OverflowError):
        bson.encode({"attributes": {"n": INT64_MAX + 1}})
