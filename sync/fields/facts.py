"""What the account metrics need from Salesforce besides responses: ARR and renewal date, how many
contacts an account has, and which of them are key contacts.

Each lookup goes through the :class:`~sync.core.ports.AccountFactsCrm` port (the connector
batches it, one SOQL per 200 accounts) and is made only when a mapped field needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any

from sync.core.config import MetricsConfig
from sync.core.ports import AccountFactsCrm
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import FieldMap
from sync.fields.metrics import AccountFacts
from sync.state import StoredResponse


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


def account_facts(
    rows_by_account: Mapping[str, Sequence[StoredResponse]],
    *,
    crm: AccountFactsCrm,
    fmap: FieldMap,
    metrics: MetricsConfig,
    retry: RetryPolicy,
    fresh: bool = False,
) -> dict[str, AccountFacts]:
    """Facts for every account: ARR and renewal from the latest match, or from Salesforce when
    ``fresh`` (the nightly reconciliation); contact counts and key contacts when mapped."""
    ids = sorted(rows_by_account)
    facts = {account_id: snapshot_facts(rows) for account_id, rows in rows_by_account.items()}
    if not ids:
        return facts
    if fresh:
        accounts = retry.call(partial(crm.find_accounts, ids))
        for account_id, account in accounts.items():
            if account_id in facts:
                facts[account_id] = AccountFacts(arr=account.arr, renewal_date=account.renewal_date)
    counts: dict[str, int] | None = None
    if fmap.uses("coverage"):
        counts = retry.call(partial(crm.count_contacts, ids))
    keys: dict[str, frozenset[str]] | None = None
    if fmap.uses("key_contact_coverage") and metrics.key_contact_field:
        keys = retry.call(
            partial(
                crm.find_key_contacts,
                ids,
                field=metrics.key_contact_field,
                values=metrics.key_contact_values,
            )
        )
    return {
        account_id: AccountFacts(
            arr=base.arr,
            renewal_date=base.renewal_date,
            contacts=counts.get(account_id, 0) if counts is not None else None,
            key_contacts=keys.get(account_id, frozenset()) if keys is not None else None,
        )
        for account_id, base in facts.items()
    }
