"""What the account metrics need from Salesforce besides responses: ARR and renewal date, how many
contacts an account has, and which of them are key contacts.

Each lookup is batched (one SOQL per 200 accounts) and made only when a mapped field needs it.
The connector capabilities are optional protocols: a CRM port without them (a test fake, an older
connector) still gets every other metric, and the ones it cannot feed stay empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any, Protocol, runtime_checkable

from connectors.models import Account
from connectors.salesforce.soql import in_batches, quote_soql_value
from sync.core.config import MetricsConfig
from sync.core.retry import RetryPolicy
from sync.fields.fieldmap import FieldMap
from sync.fields.metrics import AccountFacts
from sync.state import StoredResponse


@runtime_checkable
class CountsContacts(Protocol):
    def count_contacts(self, account_ids: Iterable[str]) -> dict[str, int]: ...


@runtime_checkable
class FindsAccounts(Protocol):
    def find_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]: ...


@runtime_checkable
class QueriesSoql(Protocol):
    def query_all(self, soql: str) -> list[dict[str, Any]]: ...


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


def key_contacts(
    crm: QueriesSoql,
    account_ids: Sequence[str],
    *,
    field: str,
    values: Sequence[str],
    retry: RetryPolicy,
) -> dict[str, frozenset[str]]:
    """Key contact ids per account: ``field`` is true (checkbox) or one of ``values``."""
    if values:
        literals = ", ".join(quote_soql_value(v) for v in values)
        condition = f"{field} IN ({literals})"
    else:
        condition = f"{field} = true"
    condition = condition.replace("{", "{{").replace("}", "}}")
    # The field name is validated by the config; values are quoted; ids go through in_batches.
    template = f"SELECT Id, AccountId FROM Contact WHERE {condition} AND AccountId IN {{values}}"  # noqa: S608
    found: dict[str, set[str]] = {account_id: set() for account_id in account_ids}
    for soql, _ in in_batches(template, list(account_ids)):
        for record in retry.call(partial(crm.query_all, soql)):
            found.setdefault(record["AccountId"], set()).add(record["Id"])
    return {account_id: frozenset(ids) for account_id, ids in found.items()}


def account_facts(
    rows_by_account: Mapping[str, Sequence[StoredResponse]],
    *,
    crm: object,
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
    if fresh and isinstance(crm, FindsAccounts):
        accounts = retry.call(partial(crm.find_accounts, ids))
        for account_id, account in accounts.items():
            if account_id in facts:
                facts[account_id] = AccountFacts(arr=account.arr, renewal_date=account.renewal_date)
    counts: dict[str, int] | None = None
    if fmap.uses("coverage") and isinstance(crm, CountsContacts):
        counts = retry.call(partial(crm.count_contacts, ids))
    keys: dict[str, frozenset[str]] | None = None
    if (
        fmap.uses("key_contact_coverage")
        and metrics.key_contact_field
        and isinstance(crm, QueriesSoql)
    ):
        keys = key_contacts(
            crm,
            ids,
            field=metrics.key_contact_field,
            values=metrics.key_contact_values,
            retry=retry,
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
