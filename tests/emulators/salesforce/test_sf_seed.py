"""Loading the shared seed book of business."""

from __future__ import annotations

from datetime import date

from simple_salesforce.api import Salesforce

from emulators.salesforce import SalesforceEmulator
from emulators.seed import generate_seed
from emulators.seed_model import Seed, SeedAccount, SeedContact, SeedLead, SeedUser

USER = SeedUser(id="0055g0000000001AAA", name="Maria de la Cruz", email="maria@northpeak.io")
ACCOUNT = SeedAccount(
    id="0015g0000000001AAA",
    name="Acorn Labs",
    owner_id=USER.id,
    tier="SMB",
    industry="Software",
    region="EMEA",
    arr=42_000.0,
    renewal_date=date(2026, 3, 1),
    website="https://www.acornlabs.example",
    domain="acornlabs.example",
    created_date=date(2023, 5, 4),
    zendesk_organization_id=1,
)
CONTACT = SeedContact(
    id="0035g0000000001AAA",
    account_id=ACCOUNT.id,
    owner_id=USER.id,
    first_name="Jo",
    last_name="Park",
    email="jo.park@acornlabs.example",
    title="CTO",
    zendesk_user_id=2,
)
LEAD = SeedLead(
    id="00Q5g0000000001AAA",
    owner_id=USER.id,
    first_name="Lee",
    last_name="Stone",
    email="lee@prospect.example",
    company="Prospect Co",
)


def test_seed_records_keep_ids_and_map_fields(emulator: SalesforceEmulator) -> None:
    emulator.load_seed(Seed(users=[USER], accounts=[ACCOUNT], contacts=[CONTACT], leads=[LEAD]))
    account = emulator.get_record("Account", ACCOUNT.id)
    assert account is not None
    assert {k: account[k] for k in ("Name", "OwnerId", "Tier__c", "Region__c", "ARR__c")} == {
        "Name": "Acorn Labs",
        "OwnerId": USER.id,
        "Tier__c": "SMB",
        "Region__c": "EMEA",
        "ARR__c": 42_000.0,
    }
    assert account["Email_Domain__c"] == "acornlabs.example"
    assert account["Website"] == "https://www.acornlabs.example"
    assert account["Renewal_Date__c"] == "2026-03-01"
    assert account["CreatedDate"] == "2023-05-04T00:00:00.000+0000"
    user = emulator.get_record("User", USER.id)
    assert user is not None
    assert (user["FirstName"], user["LastName"], user["Name"]) == (
        "Maria de la",
        "Cruz",
        "Maria de la Cruz",
    )
    lead = emulator.get_record("Lead", LEAD.id)
    assert lead is not None
    assert (lead["Company"], lead["Status"]) == ("Prospect Co", "Open - Not Contacted")


def test_seed_relationships_resolve_in_soql(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    emulator.load_seed(Seed(users=[USER], accounts=[ACCOUNT], contacts=[CONTACT]))
    [row] = sf.query(
        "SELECT Name, Account.Name, Account.Owner.Email FROM Contact "
        "WHERE Email = 'JO.PARK@acornlabs.example'"
    )["records"]
    assert row["Name"] == "Jo Park"
    assert row["Account"]["Owner"]["Email"] == "maria@northpeak.io"


def test_generated_seed_loads_completely(emulator: SalesforceEmulator) -> None:
    seed = generate_seed(3, accounts=40, responses=0)
    emulator.load_seed(seed)
    assert len(emulator.records("Account")) == len(seed.accounts)
    assert len(emulator.records("Contact")) == len(seed.contacts)
    assert len(emulator.records("Lead")) == len(seed.leads)
    orphans = emulator.query(
        "SELECT Id FROM Contact WHERE AccountId != null AND Account.Name = null"
    )
    assert orphans["totalSize"] == 0
