"""The Salesforce connector: a thin, typed wrapper around simple-salesforce.

It speaks our plain records (:mod:`connectors.models`) and raises our error tiers. Every lookup is
batched (one SOQL per up to 200 values) and every write goes through sObject Collections (200
records per call, ``allOrNone=false``) so one bad record never sinks its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce

from connectors.errors import ConfigError, ConnectorError, RetryableError
from connectors.models import Account, Contact, FieldUpdate, TaskSpec, WriteResult
from connectors.salesforce import errors
from connectors.salesforce.soql import in_batches

COLLECTION_SIZE = 200
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SalesforceCredentials:
    """How to log in. Exactly one method's fields are used; secrets come resolved."""

    instance_url: str
    method: str = "session"  # session | password | jwt | client_credentials
    api_version: str = "59.0"
    session_id: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str = "login"
    consumer_key: str | None = None
    consumer_secret: str | None = None
    private_key: str | None = None

    def __repr__(self) -> str:
        return (
            f"SalesforceCredentials(instance_url={self.instance_url!r}, method={self.method!r}, "
            f"username={self.username!r})"
        )


@dataclass(frozen=True, slots=True)
class AccountFieldNames:
    """API names of the custom Account fields we read (empty: not used)."""

    tier: str = "Tier__c"
    arr: str = "ARR__c"
    region: str = "Region__c"
    renewal_date: str = "Renewal_Date__c"
    domain: str = "Email_Domain__c"


def connect(
    credentials: SalesforceCredentials, *, session: requests.Session | None = None
) -> Salesforce:
    """Log in with the configured method and return a simple-salesforce client.

    Pass a session from :func:`connectors.transport.make_session`, which sets request timeouts.
    """
    common: dict[str, Any] = {"version": credentials.api_version, "session": session}
    try:
        if credentials.method == "session":
            sf = Salesforce(
                instance_url=credentials.instance_url, session_id=credentials.session_id, **common
            )
        elif credentials.method == "password":
            sf = Salesforce(
                username=credentials.username,
                password=credentials.password,
                security_token=credentials.security_token or "",
                domain=credentials.domain,
                **common,
            )
        elif credentials.method == "jwt":
            sf = Salesforce(
                username=credentials.username,
                consumer_key=credentials.consumer_key,
                privatekey=credentials.private_key,
                domain=credentials.domain,
                **common,
            )
        elif credentials.method == "client_credentials":
            sf = Salesforce(
                consumer_key=credentials.consumer_key,
                consumer_secret=credentials.consumer_secret,
                domain=credentials.domain,
                **common,
            )
        else:
            raise ConfigError(f"unknown auth method {credentials.method!r}", system="salesforce")
    except ConnectorError:
        raise
    except Exception as exc:
        raise errors.translate(exc) from exc
    return sf


class SalesforceConnector:
    """Lookups and writes the engine needs, batched, escaped and translated."""

    def __init__(
        self,
        sf: Salesforce,
        *,
        account_fields: AccountFieldNames | None = None,
        task_marker_field: str = "NPS_Sync_Key__c",
    ) -> None:
        self.sf = sf
        self.account_fields = account_fields or AccountFieldNames()
        self.task_marker_field = task_marker_field

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            raise errors.translate(exc) from exc

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        result = self._call(lambda: self.sf.query_all(soql))
        return list(result.get("records", []))

    def api_usage(self) -> tuple[int, int] | None:
        """(used, allowance) from the last ``Sforce-Limit-Info`` header seen, if any."""
        usage = self.sf.api_usage.get("api-usage")
        if usage is None:
            return None
        return int(usage.used), int(usage.total)

    # -- lookups -------------------------------------------------------------------------------
    def _account_select(self, prefix: str) -> list[str]:
        f = self.account_fields
        fields = ["Id", "Name", "OwnerId", "Owner.Email", "Industry", "Website", "CreatedDate"]
        fields += [x for x in (f.tier, f.arr, f.region, f.renewal_date, f.domain) if x]
        return [f"{prefix}{name}" for name in fields]

    def find_contacts_by_email(self, emails: Iterable[str]) -> dict[str, list[Contact]]:
        """Contacts per lower-cased email; several contacts may share one email."""
        select = ["Id", "Email", "FirstName", "LastName", "OwnerId", "AccountId"]
        select += self._account_select("Account.")
        # Field names come from the config; values only ever pass through in_batches' escaping.
        template = f"SELECT {', '.join(select)} FROM Contact WHERE Email IN {{values}}"
        found: dict[str, list[Contact]] = {}
        for soql, _ in in_batches(template, [e.lower() for e in emails]):
            for rec in self.query_all(soql):
                contact = self._contact(rec)
                found.setdefault(contact.email.lower(), []).append(contact)
        for contacts in found.values():
            contacts.sort(key=lambda c: c.id)
        return found

    def find_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]:
        template = (
            f"SELECT {', '.join(self._account_select(''))} FROM Account WHERE Id IN {{values}}"
        )
        found: dict[str, Account] = {}
        for soql, _ in in_batches(template, list(account_ids)):
            for rec in self.query_all(soql):
                account = self._account(rec)
                found[account.id] = account
        return found

    def count_contacts(self, account_ids: Iterable[str]) -> dict[str, int]:
        """Number of contacts per account (for coverage)."""
        template = "SELECT AccountId, Id FROM Contact WHERE AccountId IN {values}"
        counts: dict[str, int] = {}
        for soql, _ in in_batches(template, list(account_ids)):
            for rec in self.query_all(soql):
                counts[rec["AccountId"]] = counts.get(rec["AccountId"], 0) + 1
        return counts

    def find_tasks_by_key(self, keys: Iterable[str]) -> dict[str, str]:
        """Task id per idempotency key, for Tasks we already created."""
        marker = self.task_marker_field
        template = f"SELECT Id, {marker} FROM Task WHERE {marker} IN {{values}}"
        found: dict[str, str] = {}
        for soql, _ in in_batches(template, list(keys)):
            for rec in self.query_all(soql):
                found.setdefault(rec[marker], rec["Id"])
        return found

    # -- writes --------------------------------------------------------------------------------
    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteResult]:
        """Create Tasks in collections of 200; one result per task, keyed by its idempotency key."""
        records = [self._task_record(task) for task in tasks]
        return self._collection("POST", records, [task.key for task in tasks])

    def update_records(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Update fields of existing records; one result per update, keyed by record id."""
        records = [
            {"attributes": {"type": u.object_type}, "id": u.record_id, **u.values} for u in updates
        ]
        return self._collection("PATCH", records, [u.record_id for u in updates])

    def _collection(
        self, method: str, records: list[dict[str, Any]], keys: list[str]
    ) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = records[start : start + COLLECTION_SIZE]
            chunk_keys = keys[start : start + COLLECTION_SIZE]
            body = {"allOrNone": False, "records": chunk}
            answer = self._call(
                partial(self.sf.restful, "composite/sobjects", method=method, json=body)
            )
            if not isinstance(answer, list) or len(answer) != len(chunk):
                raise RetryableError(
                    "collections answer does not match the request", system=errors.SYSTEM
                )
            for key, item in zip(chunk_keys, answer, strict=True):
                results.append(_write_result(key, item))
        return results

    def _task_record(self, task: TaskSpec) -> dict[str, Any]:
        record: dict[str, Any] = {
            "attributes": {"type": "Task"},
            "Subject": task.subject[:255],
            "Description": task.description[:32000],
            "OwnerId": task.owner_id,
            "ActivityDate": task.due_date.isoformat(),
            "Status": task.status,
            "Priority": task.priority,
            self.task_marker_field: task.key,
        }
        if task.who_id:
            record["WhoId"] = task.who_id
        if task.what_id:
            record["WhatId"] = task.what_id
        return record

    # -- record mapping ------------------------------------------------------------------------
    def _contact(self, rec: dict[str, Any]) -> Contact:
        account_rec = rec.get("Account")
        return Contact(
            id=rec["Id"],
            email=(rec.get("Email") or "").lower(),
            first_name=rec.get("FirstName") or "",
            last_name=rec.get("LastName") or "",
            owner_id=rec.get("OwnerId") or "",
            account=self._account(account_rec) if account_rec else None,
        )

    def _account(self, rec: dict[str, Any]) -> Account:
        f = self.account_fields
        owner = rec.get("Owner") or {}
        return Account(
            id=rec["Id"],
            name=rec.get("Name") or "",
            owner_id=rec.get("OwnerId") or "",
            owner_email=owner.get("Email") or "",
            tier=str(rec.get(f.tier) or "") if f.tier else "",
            industry=rec.get("Industry") or "",
            region=str(rec.get(f.region) or "") if f.region else "",
            arr=float(rec.get(f.arr) or 0.0) if f.arr else 0.0,
            renewal_date=_date(rec.get(f.renewal_date)) if f.renewal_date else None,
            website=rec.get("Website") or "",
            created_date=_date(rec.get("CreatedDate")),
        )


def _date(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def _write_result(key: str, item: dict[str, Any]) -> WriteResult:
    if item.get("success"):
        return WriteResult(record_id=key, ok=True, external_id=str(item.get("id") or ""))
    errs = item.get("errors") or []
    text = "; ".join(
        f"{e.get('statusCode', '')}: {e.get('message', '')}"
        + (f" ({', '.join(e['fields'])})" if e.get("fields") else "")
        for e in errs
    )
    code = str(errs[0].get("statusCode", "")) if errs else ""
    return WriteResult(record_id=key, ok=False, error=text or "unknown error", code=code)
