"""Drawing helpers shared by the seed generators (:mod:`emulators.seed_book`,
:mod:`emulators.seed_responses`): ids as real systems hand them out, e-mail addresses, and
weighted choices and moments drawn from the one random stream the generators share.
"""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, TypeVar

_BASE62: Final = string.digits + string.ascii_uppercase + string.ascii_lowercase
_CHECKSUM_CHARS: Final = string.ascii_uppercase + "012345"
_T = TypeVar("_T")


def salesforce_id(prefix: str, n: int) -> str:
    """A valid-looking 18-character Salesforce id: key prefix, pod, record number, checksum.

    The last three characters are Salesforce's case-insensitivity checksum of the first 15, so
    ids survive tools that compare them case-insensitively, as real ones do.
    """
    if len(prefix) != 3 or not prefix.isalnum():
        raise ValueError(f"key prefix must be 3 alphanumeric characters, got {prefix!r}")
    if not 0 <= n < 62**9:
        raise ValueError(f"record number out of range: {n}")
    digits = ""
    for _ in range(9):
        n, rest = divmod(n, 62)
        digits = _BASE62[rest] + digits
    return extend_salesforce_id(f"{prefix}5g0{digits}")


def extend_salesforce_id(id15: str) -> str:
    """The 18-character form of a 15-character id: append the case-insensitivity checksum."""
    if len(id15) != 15 or not id15.isalnum():
        raise ValueError(f"expected a 15-character id, got {id15!r}")
    suffix = ""
    for chunk_start in range(0, 15, 5):
        chunk = id15[chunk_start : chunk_start + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _CHECKSUM_CHARS[bits]
    return id15 + suffix


def email_local_part(first: str, last: str) -> str:
    """``first.last`` folded to ASCII letters and digits (José O'Brien → jose.obrien)."""
    return f"{ascii_word(first)}.{ascii_word(last)}"


def mixed_case_email(email: str) -> str:
    """The same address as a person might type it: ``Jane.Doe@Example.COM``."""
    local, _, domain = email.partition("@")
    labels = domain.split(".")
    cased = [labels[0].capitalize(), *(label.upper() for label in labels[1:])]
    return ".".join(part.capitalize() for part in local.split(".")) + "@" + ".".join(cased)


def ascii_word(text: str) -> str:
    """``text`` folded to lower-case ASCII letters and digits."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(char for char in folded.lower() if char.isalnum())


@dataclass
class IdCounter:
    """Increasing ids with irregular gaps, as real systems hand them out."""

    next_value: int
    max_gap: int

    def take(self, rng: random.Random) -> int:
        value = self.next_value
        self.next_value += rng.randint(1, self.max_gap)
        return value


@dataclass
class Draw:
    """The random stream, the time window and the addresses taken, shared by the generators."""

    rng: random.Random
    start: datetime
    end: datetime
    used_emails: set[str] = field(default_factory=set)

    def _weighted(self, options: Sequence[_T], weights: Sequence[float]) -> _T:
        return self.rng.choices(options, weights=weights)[0]

    def _moment(self, low: datetime, high: datetime) -> datetime:
        """A whole second in ``[low, high)``."""
        span = max(int((high - low).total_seconds()), 1)
        return low + timedelta(seconds=self.rng.randrange(span))

    def _claim_email(self, local: str, domain: str) -> str | None:
        email = f"{local}@{domain}"
        if email in self.used_emails:
            return None
        self.used_emails.add(email)
        return email
