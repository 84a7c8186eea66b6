"""Chunks of records to plan write-back for, bounded by the responses they load.

A plan loads every routed response of its contacts and accounts, so a chunk of a fixed number of
records can still hold a whole backlog (an account with many respondents, a first sync). Chunks
here close at :data:`RESPONSES_PER_PLAN` responses or :data:`RECORDS_PER_PLAN` records, whichever
comes first, which keeps memory flat whatever the size of the backlog; a single record with more
responses than that goes alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

#: Responses loaded at most per plan (unless one record alone has more).
RESPONSES_PER_PLAN = 2000
#: Records per plan at most.
RECORDS_PER_PLAN = 1000
#: Accounts whose Salesforce facts (contact counts, key contacts, fresh ARR) are looked up
#: together, across plans: the lookups go 200 accounts per SOQL whatever the chunks.
ACCOUNTS_PER_LOOKUP = 1000


def bounded(
    ids: Sequence[str],
    responses: Mapping[str, int],
    *,
    max_responses: int = RESPONSES_PER_PLAN,
    max_records: int = RECORDS_PER_PLAN,
) -> Iterator[list[str]]:
    """``ids`` in order, in chunks of at most ``max_records`` whose ``responses`` add up to at
    most ``max_responses`` (a record above that on its own makes a chunk of one)."""
    chunk: list[str] = []
    total = 0
    for record_id in ids:
        count = responses.get(record_id, 0)
        if chunk and (total + count > max_responses or len(chunk) >= max_records):
            yield chunk
            chunk, total = [], 0
        chunk.append(record_id)
        total += count
    if chunk:
        yield chunk
