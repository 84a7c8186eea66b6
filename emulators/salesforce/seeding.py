"""Loading the shared seed book of business into the Salesforce store.

Seed records are written straight into the store (no validation rules, no API usage), keeping
their ids, so every emulator and test can refer to the same accounts and contacts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from emulators.salesforce import ids
from emulators.salesforce.store import Record, Store
from emulators.salesforce.writes import derive_opportunity
from emulators.seed_model import (
    Seed,
    SeedAccount,
    SeedContact,
    SeedLead,
    SeedOpportunity,
    SeedUser,
)


def load(store: Store, seed: Seed, *, writer: RawWriter) -> None:
    """Insert the seed's users, accounts, contacts, leads and opportunities (existing ids are
    replaced)."""
    for user in seed.users:
        writer.put("User", _user(user))
    for account in seed.accounts:
        writer.put("Account", _account(account))
    for contact in seed.contacts:
        writer.put("Contact", _contact(contact))
    for lead in seed.leads:
        writer.put("Lead", _lead(lead))
    for opportunity in seed.opportunities:
        writer.put("Opportunity", _opportunity(opportunity))


class RawWriter:
    """Puts records into the store as given, filling only system fields and full names."""

    def __init__(
        self,
        store: Store,
        ids_factory: ids.IdFactory,
        creator_id: str,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.ids_factory = ids_factory
        self.creator_id = creator_id
        self.now = now

    def put(self, sobject_name: str, fields: dict[str, Any]) -> str:
        """Store one record from canonical or any-case field names; returns its id."""
        sobject = self.store.schema.require(sobject_name)
        fields = dict(fields)
        record: Record = {
            definition.name: False if definition.type == "boolean" else None
            for definition in sobject
        }
        record.update(
            {d.name: d.default_value for d in sobject if d.default_value is not None},
        )
        created = fields.pop("CreatedDate", None) or self.now()
        record.update(
            IsDeleted=False,
            CreatedDate=created,
            CreatedById=self.creator_id,
            LastModifiedDate=created,
            LastModifiedById=self.creator_id,
            SystemModstamp=created,
        )
        if sobject.field("OwnerId") is not None:
            record["OwnerId"] = self.creator_id
        for name, value in fields.items():
            definition = sobject.field(name)
            if definition is not None:
                record[definition.name] = value
        record["Id"] = ids.to_18(record["Id"] or self.ids_factory.new(sobject.key_prefix))
        name_field = sobject.field("Name")
        if name_field is not None and name_field.derived:
            parts = [record.get("FirstName"), record.get("LastName")]
            record["Name"] = " ".join(str(p) for p in parts if p) or None
        self.store.put(sobject, record)
        return str(record["Id"])


def _split_name(full_name: str) -> tuple[str | None, str]:
    first, _, last = full_name.strip().rpartition(" ")
    return (first or None), last


def _user(user: SeedUser) -> dict[str, Any]:
    first, last = _split_name(user.name)
    return {
        "Id": user.id,
        "Username": user.email,
        "FirstName": first,
        "LastName": last,
        "Email": user.email,
        "Alias": (last or "user")[:8].lower(),
        "Title": user.title,
        "ManagerId": user.manager_id,
        "IsActive": True,
    }


def _account(account: SeedAccount) -> dict[str, Any]:
    return {
        "Id": account.id,
        "Name": account.name,
        "OwnerId": account.owner_id,
        "Tier__c": account.tier,
        "Industry": account.industry,
        "Region__c": account.region,
        "ARR__c": float(account.arr),
        "Renewal_Date__c": account.renewal_date,
        "Website": account.website,
        "Email_Domain__c": account.domain,
        "CreatedDate": _midnight(account.created_date),
    }


def _contact(contact: SeedContact) -> dict[str, Any]:
    return {
        "Id": contact.id,
        "AccountId": contact.account_id,
        "OwnerId": contact.owner_id,
        "FirstName": contact.first_name,
        "LastName": contact.last_name,
        "Email": contact.email,
        "Title": contact.title,
    }


def _lead(lead: SeedLead) -> dict[str, Any]:
    return {
        "Id": lead.id,
        "OwnerId": lead.owner_id,
        "FirstName": lead.first_name,
        "LastName": lead.last_name,
        "Email": lead.email,
        "Company": lead.company,
    }


def _opportunity(opportunity: SeedOpportunity) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "Id": opportunity.id,
        "AccountId": opportunity.account_id,
        "OwnerId": opportunity.owner_id,
        "Name": opportunity.name,
        "Type": opportunity.type,
        "Amount": opportunity.amount,
        "StageName": opportunity.stage,
        "CloseDate": opportunity.close_date,
    }
    derive_opportunity(fields)
    return fields


def _midnight(day: date) -> datetime:
    if isinstance(day, datetime):
        return day.astimezone(UTC)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
