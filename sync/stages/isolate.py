"""One value a system refuses fails alone: batched lookups narrowed down by halving.

A batched lookup (a SOQL ``IN`` list, a Zendesk ``show_many``) fails as a whole when the system
refuses one of its values (a 400 for a query it cannot parse). :func:`isolate` runs the lookup
again on each half of a refused batch until the refused values stand alone, so the rest of the
batch is answered and only those values are reported, with the system's reason. Transient,
deferral and configuration errors are not about one value and are raised as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from connectors.errors import ConnectorError

T = TypeVar("T", bound=Hashable)


def isolate(values: Sequence[T], lookup: Callable[[Sequence[T]], None]) -> dict[T, str]:
    """Run ``lookup`` over ``values``; the values refused on their own, with the reason.

    ``lookup`` keeps what it finds itself (it is called once per batch or half of one). One
    refused value among ``n`` costs about ``2 * log2(n)`` extra calls.
    """
    failed: dict[T, str] = {}
    todo: list[Sequence[T]] = [values]
    while todo:
        part = todo.pop()
        if not part:
            continue
        try:
            lookup(part)
        except ConnectorError as error:
            if error.tier != "skip":
                raise
            if len(part) == 1:
                failed[part[0]] = str(error)
                continue
            middle = len(part) // 2
            todo += [part[middle:], part[:middle]]
    return failed
