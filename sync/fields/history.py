"""The optional per-response history object (``NPS_Response__c``): one Salesforce record per
matched response, upserted by an external id so a retry or a re-run never makes a second one.

The external id is ``<source>:<response id>``; the record carries lookups to the contact and to
the account the contact belonged to when answering, the score, category, comment and when it was
given, and, while comment analysis is on, the comment's sentiment and themes as stored when the
response was routed. Upserts go through sObject Collections (200 per call) or Bulk API 2.0 for
large batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.models import category_of
from sync.core.catalogue import HISTORY_THEMES_LENGTH
from sync.fields.fieldmap import HISTORY_KEY_LENGTH, HistoryMap
from sync.state import StoredResponse

#: The store keeps written values under record ids of at most this many characters.
STORE_KEY_LENGTH = 40


def external_key(row: StoredResponse) -> str:
    """The history record's external id: ``source:response id``, hashed if too long."""
    return history_key(row.response.source, row.response.response_id)


def history_key(source: str, response_id: str) -> str:
    """The history record's external id of a response (:func:`external_key`)."""
    key = f"{source}:{response_id}"
    if len(key) <= HISTORY_KEY_LENGTH:
        return key
    return f"{source[:64]}:sha256:{_digest(key)}"


def store_key(external: str) -> str:
    """The id under which the store remembers what it wrote for this history record."""
    return external if len(external) <= STORE_KEY_LENGTH else "h:" + _digest(external)[:38]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


#: (source, response id) -> the stored text fields (``sentiment``, ``themes``) of a response.
CommentFields = Mapping[tuple[str, str], Mapping[str, object]]


def history_values(
    row: StoredResponse, history: HistoryMap, text: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """The history record for one matched response (including its external id); ``text`` is
    what its comment was found to say (none: no sentiment or themes)."""
    r = row.response
    text = text or {}
    values: dict[str, Any] = {
        "contact": row.contact_id,
        "account": row.account_id,
        "score": r.score,
        "category": category_of(r.score),
        "comment": r.comment or None,
        "responded_at": r.created_at.isoformat().replace("+00:00", "Z"),
        "survey_type": r.survey_type or None,
        "channel": r.channel or None,
        "link": r.permalink or None,
        "sentiment": _sentiment(text.get("sentiment")),
        "themes": _themes_text(text.get("themes")),
    }
    record = {name: values[key] for key, name in history.fields.items()}
    record[history.external_id] = external_key(row)
    return record


def _sentiment(score: object) -> float | None:
    """The score to the field's three decimals."""
    return round(float(score), 3) if isinstance(score, int | float) else None


def _themes_text(themes: object) -> str | None:
    """The themes, most confident first, "; "-joined; whole names only within the field."""
    if not isinstance(themes, list | tuple) or not themes:
        return None
    kept: list[str] = []
    for name in (str(t) for t in themes):
        if len("; ".join([*kept, name])) > HISTORY_THEMES_LENGTH:
            break
        kept.append(name)
    return "; ".join(kept) or None


def history_records(
    rows: Iterable[StoredResponse], history: HistoryMap, comments: CommentFields | None = None
) -> dict[str, dict[str, Any]]:
    """History records of the matched responses, by store key; ``comments`` holds the stored
    text fields of the responses whose comment was analysed."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not row.contact_id:
            continue
        key = (row.response.source, row.response.response_id)
        record = history_values(row, history, (comments or {}).get(key))
        out[store_key(record[history.external_id])] = record
    return out
