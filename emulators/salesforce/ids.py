"""Salesforce record ids: key prefixes, the 18-character checksum, and a generator.

Real ids are 15 case-sensitive characters (3-character key prefix, pod, record number) plus a
3-character suffix that makes the 18-character form safe to compare case-insensitively. The
emulator accepts both forms wherever Salesforce does and always answers with 18 characters.
"""

from __future__ import annotations

import re
import string
import threading
from typing import Final

_BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_CHARS: Final = string.ascii_uppercase + "012345"
_ID_SHAPE: Final = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-5]{3})?\Z")

#: A pod marker that the seed generator (``5g0``) never uses, so new ids cannot collide with it.
_POD: Final = "8x0"

ORG_ID: Final = "00D8x0000000Acm"
"""The emulated org's 15-character id."""


def checksum(id15: str) -> str:
    """The 3-character suffix of a 15-character id."""
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += _CHECKSUM_CHARS[bits]
    return suffix


def is_valid_id(value: str) -> bool:
    """Whether ``value`` has the shape of a 15- or 18-character id (checksum included)."""
    if not _ID_SHAPE.match(value):
        return False
    if len(value) == 15:
        return True
    core = _restore_case(value)
    return core is not None and checksum(core) == value[15:].upper()


def to_18(value: str) -> str:
    """The canonical 18-character form of a valid 15- or 18-character id.

    An 18-character id may have lost its case (spreadsheets, case-insensitive tools); the
    checksum tells which letters were upper case, so the canonical form is recovered.
    """
    if len(value) == 15:
        return value + checksum(value)
    core = _restore_case(value)
    if core is None:
        raise ValueError(f"not a Salesforce id: {value!r}")
    return core + checksum(core)


def _restore_case(value: str) -> str | None:
    chars = list(value[:15])
    for chunk, code in enumerate(value[15:18].upper()):
        bits = _CHECKSUM_CHARS.find(code)
        if bits < 0:
            return None
        for offset in range(5):
            position = chunk * 5 + offset
            upper = bool(bits >> offset & 1)
            char = chars[position]
            if char.isalpha():
                chars[position] = char.upper() if upper else char.lower()
            elif upper:
                return None
    return "".join(chars)


class IdFactory:
    """Hands out fresh 18-character ids per key prefix (thread-safe)."""

    def __init__(self, start: int = 1) -> None:
        self._next: dict[str, int] = {}
        self._start = start
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            number = self._next.get(prefix, self._start)
            self._next[prefix] = number + 1
        digits = ""
        for _ in range(9):
            number, rest = divmod(number, 62)
            digits = _BASE62[rest] + digits
        core = f"{prefix}{_POD}{digits}"
        return core + checksum(core)


ORG_ID_18: Final = to_18(ORG_ID)
