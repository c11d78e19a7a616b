"""Remembering which objects a run has seen: exactly, and in little memory."""

from __future__ import annotations

import re
from array import array

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LOW64 = (1 << 64) - 1


def compact_id(object_id: str) -> int | str:
    """The id as one 128-bit int when it is a (lower-case) GUID, else the string itself."""
    if _GUID.fullmatch(object_id):
        return int(object_id.replace("-", ""), 16)
    return object_id


class IdSet:
    """An exact set of object ids that stays small for a whole tenant: GUIDs live as two 64-bit
    halves in flat arrays (open addressing filled up to 80%: 20 to 40 bytes an id, where a set of
    ints needs 86); any other id goes to a plain set."""

    __slots__ = ("_hi", "_lo", "_mask", "_count", "_other")

    def __init__(self) -> None:
        self._other: set[str] = set()
        self._allocate(1024)

    def _allocate(self, capacity: int) -> None:
        self._hi = array("Q", bytes(8 * capacity))
        self._lo = array("Q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._count = 0

    def __len__(self) -> int:
        return self._count + len(self._other)

    def __contains__(self, object_id: object) -> bool:
        key = self._key(object_id)
        if key is None:
            return object_id in self._other
        hi, lo, slot = key
        his, los, mask = self._hi, self._lo, self._mask
        while his[slot] or los[slot]:
            if los[slot] == lo and his[slot] == hi:
                return True
            slot = (slot + 1) & mask
        return False

    def add(self, object_id: str) -> bool:
        """Remember `object_id`; False when it was already there."""
        key = self._key(object_id)
        if key is None:
            if object_id in self._other:
                return False
            self._other.add(object_id)
            return True
        return self._put(*key)

    def clear(self) -> None:
        self._other.clear()
        self._allocate(1024)

    def _key(self, object_id: object) -> tuple[int, int, int] | None:
        if not isinstance(object_id, str) or not _GUID.fullmatch(object_id):
            return None
        value = int(object_id.replace("-", ""), 16)
        if not value:
            return None  # the nil GUID would look like an empty slot
        return value >> 64, value & _LOW64, hash(value) & self._mask

    def _put(self, hi: int, lo: int, slot: int) -> bool:
        his, los, mask = self._hi, self._lo, self._mask
        while his[slot] or los[slot]:
            if los[slot] == lo and his[slot] == hi:
                return False
            slot = (slot + 1) & mask
        his[slot], los[slot] = hi, lo
        self._count += 1
        if self._count * 5 > (mask + 1) * 4:
            self._grow()
        return True

    def _grow(self) -> None:
        his, los = self._hi, self._lo
        self._allocate(2 * len(his))
        for hi, lo in zip(his, los, strict=True):
            if hi or lo:
                self._put(hi, lo, hash((hi << 64) | lo) & self._mask)
