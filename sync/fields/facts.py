"""What the account metrics need from Salesforce besides responses: ARR and renewal date, how many
contacts an account has, and which of them are key contacts.

Each lookup goes through the :class:`~sync.core.ports.AccountFactsCrm` port (the connector
batches it, one SOQL per 200 accounts) and is made only when a mapped field needs it. Each
query's worth of accounts is retried on its own: retried as one lookup, a thousand accounts
would need every one of its queries through in a row, which a steady fault rate denies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, TypeVar

from more_itertools import chunked

from sync.core.config import MetricsConfig
from sync.core.ports import AccountFactsCrm
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import FieldMap
from sync.fields.metrics import AccountFacts
from sync.state import StoredResponse

V = TypeVar("V")
#: Accounts per Salesforce lookup: what one query's ``IN`` list takes.
ACCOUNTS_PER_QUERY = 200


def snapshot_account(rows: Sequence[StoredResponse]) -> Mapping[str, Any]:
    """The account as matched for the account's latest response (the freshest copy we hold)."""
    if not rows:
        return {}
    latest = max(rows, key=lambda r: (r.response.created_at, r.response.response_id))
    return (latest.match or {}).get("account") or {}


def snapshot_facts(rows: Sequence[StoredResponse]) -> AccountFacts:
    """ARR and renewal date as matched for the latest response (no Salesforce call)."""
    account = snapshot_account(rows)
    renewal = account.get("renewal_date")
    return AccountFacts(
        arr=float(account.get("arr") or 0.0),
        renewal_date=date.fromisoformat(str(renewal)[:10]) if renewal else None,
    )


@dataclass(frozen=True, slots=True)
class CrmFacts:
    """What Salesforce said about some accounts; None where it was not asked."""

    #: ARR and renewal date as Salesforce holds them now (``fresh`` lookups only).
    accounts: Mapping[str, AccountFacts] | None = None
    contacts: Mapping[str, int] | None = None
    key_contacts: Mapping[str, frozenset[str]] | None = None


def crm_facts(
    ids: Sequence[str],
    *,
    crm: AccountFactsCrm,
    fmap: FieldMap,
    metrics: MetricsConfig,
    retry: RetryPolicy,
    fresh: bool = False,
) -> CrmFacts:
    """The Salesforce lookups the mapped fields need for these accounts (none when none does).

    Kept apart from the responses so a caller planning in small chunks looks up many accounts
    at once: one SOQL per 200 accounts whatever the chunks.
    """
    if not ids:
        return CrmFacts()
    accounts: dict[str, AccountFacts] | None = None
    if fresh:
        found = _each_query(retry, crm.find_accounts, ids)
        accounts = {
            account_id: AccountFacts(arr=account.arr, renewal_date=account.renewal_date)
            for account_id, account in found.items()
        }
    counts: dict[str, int] | None = None
    if fmap.uses("coverage"):
        counts = _each_query(retry, crm.count_contacts, ids)
    keys: dict[str, frozenset[str]] | None = None
    if fmap.uses("key_contact_coverage") and metrics.key_contact_field:
        find = partial(
            crm.find_key_contacts,
            field=metrics.key_contact_field,
            values=metrics.key_contact_values,
        )
        keys = _each_query(retry, find, ids)
    return CrmFacts(accounts, counts, keys)


def _each_query(
    retry: RetryPolicy, lookup: Callable[[list[str]], Mapping[str, V]], ids: Sequence[str]
) -> dict[str, V]:
    """``lookup`` of ``ids``, one query's worth of accounts a call, each retried on its own."""
    found: dict[str, V] = {}
    for part in chunked(ids, ACCOUNTS_PER_QUERY):
        found.update(retry.call(partial(lookup, part)))
    return found


def account_facts(
    rows_by_account: Mapping[str, Sequence[StoredResponse]],
    *,
    crm: AccountFactsCrm,
    fmap: FieldMap,
    metrics: MetricsConfig,
    retry: RetryPolicy,
    fresh: bool = False,
    known: CrmFacts | None = None,
) -> dict[str, AccountFacts]:
    """Facts for every account: ARR and renewal from the latest match, or from Salesforce when
    ``fresh`` (the nightly reconciliation); contact counts and key contacts when mapped.

    ``known`` are lookups already made for these accounts (:func:`crm_facts`); without them
    they are made here.
    """
    ids = sorted(rows_by_account)
    if not ids:
        return {}
    looked_up = known
    if looked_up is None:
        looked_up = crm_facts(ids, crm=crm, fmap=fmap, metrics=metrics, retry=retry, fresh=fresh)
    out: dict[str, AccountFacts] = {}
    for account_id in ids:
        base = snapshot_facts(rows_by_account[account_id])
        if looked_up.accounts is not None and account_id in looked_up.accounts:
            base = looked_up.accounts[account_id]
        counts, keys = looked_up.contacts, looked_up.key_contacts
        out[account_id] = AccountFacts(
            arr=base.arr,
            renewal_date=base.renewal_date,
            contacts=counts.get(account_id, 0) if counts is not None else None,
            key_contacts=keys.get(account_id, frozenset()) if keys is not None else None,
        )
    return out
