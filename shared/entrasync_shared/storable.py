"""What MongoDB cannot store, found before a write fails.

A value that PyMongo or the server refuses fails the same way on every redelivery, so it is
caught where it enters: history refuses such a pipeline message as malformed (parked at once),
and the syncer fails the object type's round with this reason instead of publishing it.

Refused, as checked against PyMongo 4 and MongoDB 6:

- a key holding a NUL character (BSON keys are C strings: `bson.errors.InvalidDocument`);
- an integer outside signed 64 bits (`OverflowError: MongoDB can only handle up to 8-byte ints`;
  JSON parsers hand such numbers over as Python ints);
- nesting deeper than `MAX_DEPTH` (the server refuses documents nested over 180 levels, and
  that count includes the levels of the document around the value);
- a value of a type JSON cannot produce.

Keys starting with `$` or holding `.` are stored by MongoDB 5.0+ inside replacement documents
(the way history writes objects), so they pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
MAX_DEPTH: Final = 100
"""Levels of nesting allowed inside a value (MongoDB's documented limit, well below its 180)."""

_LEAVES: Final = frozenset({str, float, bool, type(None)})
_CONTAINERS: Final = (dict, list, tuple)


def unstorable(value: Mapping[str, Any] | Iterable[Any]) -> str | None:
    """Why MongoDB could not store `value` (the first problem found, with where), else None.

    `value` is a JSON-like dict or list: what `json`/`orjson`/pydantic produce from JSON. The
    answer is safe to log (keys are shown with `repr`), e.g. ``"at extensions: key 'a\\x00b'
    holds a NUL character"``.
    """
    found = _problem(value, MAX_DEPTH)
    if found is None:
        return None
    path, why = found
    return f"at {'.'.join(reversed(path))}: {why}" if path else why


def _problem(value: Any, depth: int) -> tuple[list[str], str] | None:
    if type(value) is dict:
        problem = _key_problem(value)
        if problem is not None:
            return [], problem
        values: Iterable[Any] = value.values()
        items: Iterable[tuple[Any, Any]] = value.items()
    else:
        values = value
        items = enumerate(value)
    # Most values hold scalars only: one C-level pass decides (the syncer checks every object).
    if _LEAVES.issuperset(map(type, values)):
        return None
    for key, item in items:
        if type(item) in _LEAVES:
            continue
        why = _item_problem(item, depth)
        if why is None:
            continue
        if isinstance(why, str):
            return [_label(key)], why
        why[0].append(_label(key))
        return why
    return None


def _item_problem(item: Any, depth: int) -> str | tuple[list[str], str] | None:
    kind = type(item)
    if kind is int:
        return None if INT64_MIN <= item <= INT64_MAX else f"integer {item} exceeds 64 bits"
    if isinstance(item, _CONTAINERS):
        if depth <= 1:
            return f"nested deeper than {MAX_DEPTH} levels"
        return _problem(item, depth - 1)
    return f"{kind.__name__} is not a JSON value"


def _key_problem(mapping: dict[Any, Any]) -> str | None:
    try:
        keys = "".join(mapping)
    except TypeError:
        key = next(k for k in mapping if type(k) is not str)
        return f"key {key!r} is not a string"
    if "\x00" not in keys:
        return None
    key = next(k for k in mapping if "\x00" in k)
    return f"key {key!r} holds a NUL character"


def _label(key: Any) -> str:
    if type(key) is int:
        return str(key)
    text = str(key)
    return text if text.isprintable() and "." not in text else repr(text)
