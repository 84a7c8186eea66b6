"""The review list's fixes: each kind of unmatched response gets the change that would match it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.errors import RetryableError
from connectors.models import Account, Contact, SurveyResponse
from connectors.salesforce.records import AccountLookup, ContactLookup
from sync.core.config import Config
from sync.ops.review import domain_name, review
from sync.state import StoredResponse

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FERNWOOD = Account("001000000000001AAA", "Fernwood Labs", domain="fernwood.com")
FERN_GROUP = Account("001000000000002AAA", "Fernwood Group", domain="fernwood-group.de")
TWIN_A = Account("001000000000003AAA", "Twin A", domain="twin.example")
TWIN_B = Account("001000000000004AAA", "Twin B", domain="twin.example")
GLOBEX = Account("001000000000005AAA", "Globex Corporation", domain="globex.example")


class FakeCrm:
    """The lookups the review asks for, answered from lists; counts the questions."""

    def __init__(
        self,
        accounts: Iterable[Account] = (),
        leads: Iterable[str] = (),
        contacts: Mapping[str, list[Contact]] | None = None,
        fail: bool = False,
    ) -> None:
        self.accounts = list(accounts)
        self.leads = set(leads)
        self.contacts = dict(contacts or {})
        self.fail = fail
        self.asked: list[str] = []

    def _ask(self, what: str) -> None:
        self.asked.append(what)
        if self.fail:
            raise RetryableError("Salesforce is down", system="salesforce")

    def find_contacts(
        self, *, ids: Iterable[str] = (), emails: Iterable[str] = ()
    ) -> ContactLookup:
        self._ask("contacts")
        found = ContactLookup()
        for email in emails:
            if email in self.contacts:
                found.by_email[email] = self.contacts[email]
        return found

    def find_leads_by_email(self, emails: Iterable[str]) -> dict[str, list[Contact]]:
        self._ask("leads")
        return {e: [Contact("00Q000000000001AAA", e)] for e in emails if e in self.leads}

    def find_accounts_by(
        self, *, ids: Iterable[str] = (), names: Iterable[str] = (), domains: Iterable[str] = ()
    ) -> AccountLookup:
        self._ask("accounts")
        found = AccountLookup()
        for domain in domains:
            hits = [a for a in self.accounts if a.domain == domain]
            if hits:
                found.by_domain[domain] = hits
        return found

    def search_accounts(self, fragments: Iterable[str], *, limit: int = 50) -> list[Account]:
        self._ask("search")
        wanted = [f.lower() for f in fragments]
        return [
            a
            for a in self.accounts
            if any(f in a.name.lower() or f in a.domain.lower() for f in wanted)
        ]


def config(**matching: Any) -> Config:
    return Config.model_validate(
        {
            "salesforce": {"instance_url": "https://acme.my.salesforce.com", "matching": matching},
            "zendesk": {"subdomain": "acme"},
            "rules": "rules.yaml",
        }
    )


def row(rid: str, email: str, status: str = "unmatched", **match: Any) -> StoredResponse:
    response = SurveyResponse("delighted", rid, email, 3, "", T0, T0)
    return StoredResponse(response, "v1", "v1", match={"status": status, **match})


@pytest.mark.parametrize(
    ("domain", "name"),
    [
        ("acme.com", "acme"),
        ("mail.acme-labs.co.uk", "acme-labs"),
        ("eu.globex.example", "globex"),
        ("localhost", "localhost"),
    ],
)
def test_the_name_of_a_domain(domain: str, name: str) -> None:
    assert domain_name(domain) == name


def test_a_domain_on_no_account_gets_an_alias_to_the_closest_account() -> None:
    rows = [row("1", "pat@fernwood.io"), row("2", "kim@fernwood.io")]
    crm = FakeCrm([FERNWOOD, FERN_GROUP, GLOBEX])
    (fix,) = review(rows, config(), crm).fixes
    assert fix.kind == "alias"
    assert fix.problem == "email domain fernwood.io is on no account"
    assert [a.id for a in fix.accounts] == [FERNWOOD.id, FERN_GROUP.id]
    assert fix.advice.startswith(
        "closest account: Fernwood Labs (fernwood.com) (or Fernwood Group (fernwood-group.de))"
    )
    assert fix.snippet == (
        "salesforce:\n  matching:\n    account_aliases:\n"
        f"      # Fernwood Labs\n      fernwood.io: {FERNWOOD.id}"
    )
    assert fix.responses == [("delighted", "1"), ("delighted", "2")]


def test_without_the_alias_step_the_snippet_turns_it_on() -> None:
    (fix,) = review([row("1", "pat@fernwood.io")], config(order=["email", "domain"]), FakeCrm(
        [FERNWOOD]
    )).fixes  # fmt: skip
    assert fix.snippet.splitlines()[:3] == [
        "salesforce:",
        "  matching:",
        "    order: [email, alias, domain]",
    ]


def test_a_domain_like_no_account_gets_a_placeholder() -> None:
    (fix,) = review([row("1", "x@zzqq.example")], config(), FakeCrm([GLOBEX])).fixes
    assert fix.accounts == ()
    assert fix.advice.startswith("no account looks like it;")
    assert "Email_Domain__c" in fix.advice
    assert fix.snippet.endswith("zzqq.example: <Account Id or exact account name>")


def test_a_domain_now_on_an_account_needs_a_rematch_or_its_step() -> None:
    rows = [row("1", "pat@globex.example")]
    (fix,) = review(rows, config(), FakeCrm([GLOBEX])).fixes
    assert (fix.kind, fix.snippet) == ("rematch", "")
    assert fix.advice == "run `nps-sync unmatched rematch`"
    (fix,) = review(rows, config(order=["crm_id", "email"]), FakeCrm([GLOBEX])).fixes
    assert fix.kind == "order"
    assert fix.snippet.endswith("order: [crm_id, email, domain]")


def test_a_domain_of_two_accounts_is_settled_by_an_alias_to_one() -> None:
    rows = [row("1", "pat@twin.example", "ambiguous", method="domain")]
    (fix,) = review(rows, config(), FakeCrm([TWIN_A, TWIN_B])).fixes
    assert fix.kind == "choose_account"
    assert fix.problem == (
        f"email domain twin.example is the domain of 2 accounts: Twin A (twin.example) "
        f"{TWIN_A.id}, Twin B (twin.example) {TWIN_B.id}"
    )
    assert fix.snippet.endswith(f"# Twin A, or one of the others\n      twin.example: {TWIN_A.id}")


def test_an_email_shared_across_accounts_suggests_ties_or_one_contact() -> None:
    shared = [
        Contact("003000000000001AAA", "pat@acme.example", account=TWIN_A),
        Contact("003000000000002AAA", "pat@acme.example", account=TWIN_B),
    ]
    rows = [row("1", "pat@acme.example", "ambiguous", method="email")]
    (fix,) = review(rows, config(), FakeCrm(contacts={"pat@acme.example": shared})).fixes
    assert fix.kind == "ties"
    assert fix.problem == (
        "contacts of several accounts share the email (pat@acme.example: Twin A, Twin B)"
    )
    assert fix.snippet == "salesforce:\n  matching:\n    ties: oldest"


def test_leads_are_pointed_at_the_lead_step_unless_it_is_on() -> None:
    rows = [row("1", "lee@gmail.com"), row("2", "pat@fernwood.io")]
    crm = FakeCrm([FERNWOOD], leads=["lee@gmail.com"])
    kinds = {f.kind: f for f in review(rows, config(), crm).fixes}
    assert set(kinds) == {"order", "alias"}
    assert kinds["order"].snippet.endswith("order: [crm_id, email, lead, alias, domain]")
    assert kinds["order"].responses == [("delighted", "1")]
    with_leads = config(order=["crm_id", "email", "lead", "alias", "domain"])
    crm = FakeCrm([FERNWOOD], leads=["lee@gmail.com"])
    assert {f.kind for f in review(rows, with_leads, crm).fixes} == {"personal_address", "alias"}
    assert "leads" not in crm.asked


def test_an_alias_to_a_missing_account_is_pointed_at_the_closest_one() -> None:
    rows = [row("1", "pat@globex.io")]
    settings = config(account_aliases={"globex.io": "Globex Corp"})
    (fix,) = review(rows, settings, FakeCrm([GLOBEX, FERNWOOD])).fixes
    assert fix.kind == "fix_alias"
    assert (
        fix.problem
        == "the alias globex.io -> Globex Corp names no account (no account has this name)"
    )
    assert fix.snippet.endswith(f"# Globex Corporation\n      globex.io: {GLOBEX.id}")


def test_personal_addresses_and_refused_lookups() -> None:
    rows = [
        row("1", "a1@gmail.com"),
        row("2", "b2@outlook.com"),
        row("3", "c@corp.example", "failed", detail="lookup failed: contact email c@corp.example"),
    ]
    fixes = review(rows, config(free_mail_domains=["corp.example"]), FakeCrm()).fixes
    assert [(f.kind, len(f.responses)) for f in fixes] == [("personal_address", 2), ("retry", 1)]
    assert (
        fixes[0].problem
        == "personal addresses (gmail.com, outlook.com) say nothing about the employer"
    )
    assert "`Salesforce Contact Id` property" in fixes[0].advice
    assert fixes[1].problem == "a lookup was refused: lookup failed: contact email c@corp.example"


def test_without_salesforce_the_fixes_name_no_account_and_say_why() -> None:
    rows = [row("1", "pat@fernwood.io")]
    offline = review(rows, config(), None)
    assert (offline.fixes[0].kind, offline.fixes[0].accounts, offline.note) == ("alias", (), "")
    down = FakeCrm([FERNWOOD], fail=True)
    found = review(rows, config(), down)
    assert found.fixes[0].accounts == ()
    assert found.note.startswith("Salesforce could not be asked (Leads by email: ")
    assert down.asked == ["leads"]  # one refusal is enough
