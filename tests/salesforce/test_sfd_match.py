"""The matching ladder against the emulator, through the real connector and SOQL."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime

import pytest

from connectors.errors import RetryableError
from connectors.models import SurveyResponse
from connectors.salesforce.client import SalesforceConnector
from connectors.salesforce.records import AccountFieldNames
from emulators.salesforce import SalesforceEmulator
from sync.core.retry import NO_RETRY
from sync.stages.match import FREE_MAIL_DOMAINS, MatchOptions, match_responses
from sync.stages.match_record import Match
from tests.salesforce.conftest import ConnectorFactory, add_account, add_contact

WHEN = datetime(2026, 5, 1, tzinfo=UTC)


def response(email: str, rid: str = "r1", **properties: str) -> SurveyResponse:
    return SurveyResponse(
        source="test",
        response_id=rid,
        email=email,
        score=3,
        comment="",
        created_at=WHEN,
        updated_at=WHEN,
        properties=dict(properties),
    )


def match_one(
    crm: SalesforceConnector, r: SurveyResponse, options: MatchOptions | None = None
) -> Match:
    return match_responses([r], crm, None, NO_RETRY, options)[(r.source, r.response_id)]


def queries(org: SalesforceEmulator) -> int:
    return org.calls["query"] + org.calls["query_more"]


def test_a_contact_id_in_the_survey_wins_in_one_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme", Email_Domain__c="acme.com")
    carried = add_contact(org, "pat@acme.com", acme)
    before = queries(org)
    found = match_one(crm, response("pat@acme.com", **{"salesforce contact id ": carried[:15]}))
    assert (found.status, found.method) == ("matched", "crm_id")
    assert found.contact is not None
    assert found.contact.id == carried
    assert found.account is not None
    assert found.account.id == acme
    assert queries(org) - before == 1


def test_a_contact_id_naming_a_colleague_in_the_same_account_still_wins(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """An address changed or a colleague answered: the id is taken, at one more query (the
    respondent's email, to see whose it is)."""
    acme = add_account(org, "Acme", Email_Domain__c="acme.com")
    carried = add_contact(org, "old@acme.com", acme)
    add_contact(org, "new@acme.com", acme)  # the email now belongs to someone else
    before = queries(org)
    found = match_one(crm, response("new@acme.com", **{"salesforce contact id ": carried[:15]}))
    assert (found.status, found.method) == ("matched", "crm_id")
    assert found.contact is not None
    assert found.contact.id == carried
    assert queries(org) - before == 2


def test_a_survey_id_naming_another_customers_contact_is_not_used(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """The ids ride in a survey link the respondent can edit: one that puts a known
    customer's answer on another customer's contact or account gives way to their email."""
    aspen = add_account(org, "Aspen")
    sequoia = add_account(org, "Sequoia")
    emma = add_contact(org, "emma@aspen.com", aspen)
    victim = add_contact(org, "ibrahim@sequoia.com", sequoia)

    by_contact = match_one(crm, response("emma@aspen.com", **{"Salesforce Contact Id": victim}))
    by_account = match_one(
        crm, response("emma@aspen.com", "r2", **{"Salesforce Account Id": sequoia})
    )

    for found in (by_contact, by_account):
        assert (found.status, found.method) == ("matched", "email")
        assert found.contact is not None
        assert found.contact.id == emma
        assert found.account is not None
        assert found.account.id == aspen
        assert "not used" in found.detail


def test_a_survey_id_from_an_email_salesforce_does_not_know_is_taken(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """Nothing contradicts it: a personal address, a new colleague not in the org yet."""
    acme = add_account(org, "Acme")
    carried = add_contact(org, "pat@acme.com", acme)
    found = match_one(crm, response("pat.home@gmail.com", **{"Salesforce Contact Id": carried}))
    assert (found.status, found.method) == ("matched", "crm_id")
    assert found.contact is not None
    assert found.contact.id == carried


def test_people_answering_with_and_without_their_contact_id_are_asked_for_once(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme")
    people = [(f"p{n}@acme.com", add_contact(org, f"p{n}@acme.com", acme)) for n in range(150)]
    answers = [
        response(email, f"{n}a", **{"Salesforce Contact Id": cid[:15]})
        for n, (email, cid) in enumerate(people)
    ]
    answers += [response(email, f"{n}b") for n, (email, _) in enumerate(people)]
    before = queries(org)

    found = match_responses(answers, crm, None, NO_RETRY)

    assert all(m.status == "matched" for m in found.values())
    assert {m.method for m in found.values()} == {"crm_id", "email"}
    # 150 emails in one query; their contacts carry the ids, which are not asked for again
    assert queries(org) - before == 1


def test_an_unknown_contact_id_falls_through_to_the_email(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme")
    jane = add_contact(org, "jane@acme.com", acme)
    found = match_one(
        crm, response("jane@acme.com", **{"Salesforce Contact Id": "003000000000001"})
    )
    assert (found.status, found.method) == ("matched", "email")
    assert found.contact is not None
    assert found.contact.id == jane
    assert "not found" in found.detail


@pytest.mark.parametrize("typed", ["jane.doe@example.com", "JANE.DOE@EXAMPLE.COM"])
def test_emails_match_whatever_their_case(
    typed: str, org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    jane = add_contact(org, "Jane.Doe@Example.com", add_account(org, "Example"))
    found = match_one(crm, response(typed))
    assert found.contact is not None
    assert found.contact.id == jane


def test_shared_email_in_one_account_takes_the_oldest(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme")
    first = add_contact(org, "team@acme.com", acme)
    add_contact(org, "team@acme.com", acme)
    found = match_one(crm, response("team@acme.com"))
    assert found.status == "matched"
    assert found.contact is not None
    assert found.contact.id == first
    assert found.candidates == 2


def test_shared_email_across_accounts_goes_to_review(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    first = add_contact(org, "cfo@holding.com", add_account(org, "Holding East"))
    add_contact(org, "cfo@holding.com", add_account(org, "Holding West"))
    found = match_one(crm, response("cfo@holding.com"))
    assert (found.status, found.method, found.candidates) == ("ambiguous", "email", 2)
    assert found.contact is None
    assert found.account is None
    assert found.to_json()["status"] == "ambiguous"
    picked = match_one(crm, response("cfo@holding.com"), MatchOptions(ties="oldest"))
    assert picked.contact is not None
    assert picked.contact.id == first


def test_the_domain_settles_a_shared_email(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme", Email_Domain__c="acme.com")
    add_contact(org, "it@acme.com", add_account(org, "Acme Reseller"))
    ours = add_contact(org, "it@acme.com", acme)
    found = match_one(crm, response("it@acme.com"))
    assert (found.status, found.method, found.account_method) == ("matched", "email", "domain")
    assert found.contact is not None
    assert found.contact.id == ours


def test_a_new_colleague_lands_on_the_account_by_domain(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme", Email_Domain__c="Acme.com")
    found = match_one(crm, response("newhire@acme.com"))
    assert (found.status, found.method) == ("matched", "domain")
    assert found.contact is None
    assert found.account is not None
    assert found.account.id == acme


def test_free_mail_domains_never_match_an_account(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    add_account(org, "Sloppy data", Email_Domain__c="gmail.com")
    add_account(org, "Also sloppy", Email_Domain__c="corp-mail.example")
    assert "gmail.com" in FREE_MAIL_DOMAINS
    assert match_one(crm, response("someone@gmail.com")).status == "unmatched"
    extra = MatchOptions(free_mail_domains=FREE_MAIL_DOMAINS | {"corp-mail.example"})
    assert match_one(crm, response("x@corp-mail.example"), extra).status == "unmatched"
    assert match_one(crm, response("x@corp-mail.example")).status == "matched"


def test_several_accounts_with_one_domain_are_ambiguous(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    add_account(org, "Globex US", Email_Domain__c="globex.com")
    add_account(org, "Globex EU", Email_Domain__c="globex.com")
    found = match_one(crm, response("someone@globex.com"))
    assert (found.status, found.method, found.candidates) == ("ambiguous", "domain", 2)


def test_aliases_name_an_account_by_name_or_id(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme Inc")
    beta = add_account(org, "Beta Corp")
    options = MatchOptions(account_aliases={"acme-old.com": "acme inc", "beta.io": beta})
    first = match_one(crm, response("a@acme-old.com"), options)
    second = match_one(crm, response("b@beta.io"), options)
    assert (first.method, first.account and first.account.id) == ("alias", acme)
    assert (second.method, second.account and second.account.id) == ("alias", beta)


def test_without_a_domain_field_the_website_is_used(
    org: SalesforceEmulator, connect: ConnectorFactory
) -> None:
    crm = connect(account_fields=AccountFieldNames(domain=""))
    acme = add_account(org, "Acme", Website="https://www.acme.com/en")
    add_account(org, "Not Acme", Website="notacme.com")
    found = match_one(crm, response("ops@acme.com"))
    assert found.account is not None
    assert found.account.id == acme


def test_leads_match_only_when_listed(org: SalesforceEmulator, crm: SalesforceConnector) -> None:
    lead = org.insert_record(
        "Lead", {"LastName": "Prospect", "Company": "Initech", "Email": "pat@initech.com"}
    )
    assert match_one(crm, response("pat@initech.com")).status == "unmatched"
    with_leads = MatchOptions(order=("crm_id", "email", "lead", "alias", "domain"))
    found = match_one(crm, response("pat@initech.com"), with_leads)
    assert (found.status, found.method) == ("matched", "lead")
    assert found.contact is not None
    assert found.contact.id == lead


def test_an_account_id_limits_the_contacts_considered(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    east = add_account(org, "Holding East")
    add_contact(org, "cfo@holding.com", add_account(org, "Holding West"))
    ours = add_contact(org, "cfo@holding.com", east)
    found = match_one(crm, response("cfo@holding.com", **{"Salesforce Account Id": east}))
    assert (found.status, found.method, found.account_method) == ("matched", "email", "crm_id")
    assert found.contact is not None
    assert found.contact.id == ours


def test_the_order_is_configurable(org: SalesforceEmulator, crm: SalesforceConnector) -> None:
    acme = add_account(org, "Acme", Email_Domain__c="acme.com")
    add_contact(org, "x@acme.com", add_account(org, "Elsewhere"))
    domain_first = MatchOptions(order=("domain", "email"))
    found = match_one(crm, response("x@acme.com"), domain_first)
    assert (found.method, found.contact) == ("domain", None)
    assert found.account is not None
    assert found.account.id == acme
    email_only = match_one(crm, response("x@acme.com"), MatchOptions(order=("email",)))
    assert email_only.account is not None
    assert email_only.account.id != acme


def test_lookups_are_batched_200_values_per_query(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme")
    emails = [f"person{i}@acme.com" for i in range(450)]
    for email in emails[::3]:
        add_contact(org, email, acme)
    batch = [response(e, rid=str(i)) for i, e in enumerate(emails)]
    before = queries(org)
    found = match_responses(batch, crm, None, NO_RETRY, MatchOptions(order=("crm_id", "email")))
    assert sum(m.status == "matched" for m in found.values()) == 150
    assert queries(org) - before == math.ceil(450 / 200)


def test_every_match_says_how_it_was_made(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme", Email_Domain__c="acme.com")
    add_contact(org, "known@acme.com", acme)
    batch = [
        response("known@acme.com", rid="1"),
        response("new@acme.com", rid="2"),
        response("who@nowhere.example", rid="3"),
    ]
    found = match_responses(batch, crm, None, NO_RETRY)
    methods = {rid: (m.status, m.method) for (_, rid), m in found.items()}
    assert methods == {
        "1": ("matched", "email"),
        "2": ("matched", "domain"),
        "3": ("unmatched", "none"),
    }
    as_json = found[("test", "2")].to_json()
    assert {k: as_json[k] for k in ("status", "method", "candidates")} == {
        "status": "matched",
        "method": "domain",
        "candidates": 0,
    }


def test_options_come_from_the_config() -> None:
    from sync.core.config import SalesforceConfig

    config = SalesforceConfig.model_validate(
        {
            "instance_url": "https://acme.my.salesforce.com",
            "matching": {
                "order": ["email", "lead"],
                "free_mail_domains": ["Corp-Mail.example"],
                "account_aliases": {"Old.example": "Acme"},
                "ties": "oldest",
            },
        }
    )
    options = MatchOptions.from_config(config)
    assert options.order == ("email", "lead")
    assert "corp-mail.example" in options.free_mail_domains
    assert options.account_aliases == {"old.example": "Acme"}
    assert dataclasses.replace(options, order=()).ties == "oldest"


def test_long_emails_stay_inside_the_uri_and_literal_limits(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    """200 addresses of 300 characters would make a 60 KB URL; the batches stay under 16 KB, and
    a value longer than a SOQL literal may be is never sent (nothing can equal it)."""
    acme = add_account(org, "Acme")
    long_emails = [f"{'x' * 280}{i:03d}@acme.example" for i in range(200)]
    for email in long_emails[:5]:
        add_contact(org, email, acme)
    batch = [response(e, rid=str(i)) for i, e in enumerate(long_emails)]
    batch.append(response("y" * 4100 + "@acme.example", rid="huge"))
    found = match_responses(batch, crm, None, NO_RETRY, MatchOptions(order=("email",)))
    assert sum(m.status == "matched" for m in found.values()) == 5
    assert found[("test", "huge")].status == "unmatched"
    assert org.calls["query"] > 1


@pytest.mark.parametrize(
    "carried",
    [
        "003ZZZZZZZZZZZZZZZ",  # an 18-character id whose checksum does not fit
        "not-an-id",
        "0015g000003DfHQAA0",  # an account id in the contact id property
        "' OR Id != '",
    ],
)
def test_a_bogus_id_in_the_survey_falls_through_without_breaking_the_batch(
    carried: str, org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    jane = add_contact(org, "jane@acme.com", add_account(org, "Acme"))
    found = match_one(crm, response("jane@acme.com", **{"Salesforce Contact Id": carried}))
    assert (found.status, found.method) == ("matched", "email")
    assert found.contact is not None
    assert found.contact.id == jane


def test_an_id_that_lost_its_case_still_matches(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    jane = add_contact(org, "jane@acme.com", add_account(org, "Acme"))
    found = match_one(crm, response("x@y.example", **{"Salesforce Contact Id": jane.lower()}))
    assert (found.status, found.method) == ("matched", "crm_id")
    assert found.contact is not None
    assert found.contact.id == jane


def test_a_lookup_part_that_keeps_failing_leaves_only_its_responses_unanswered(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme")
    emails = [f"person{i:03}@acme.com" for i in range(450)]
    for email in emails:
        add_contact(org, email, acme)
    batch = [response(e, rid=str(i)) for i, e in enumerate(emails)]
    org.fail_queries_naming(emails[250])  # in the second query of 200 emails, on every try
    options = MatchOptions(order=("email",))
    with pytest.raises(RetryableError):  # a caller that cannot wait is told
        match_responses(batch, crm, None, NO_RETRY, options)
    found = match_responses(batch, crm, None, NO_RETRY, options, wait_unanswered=True)
    statuses = [found[("test", str(i))].status for i in range(450)]
    assert statuses == ["matched"] * 200 + ["unanswered"] * 200 + ["matched"] * 50
    assert found[("test", "250")].detail == (
        "no answer: salesforce: SERVER_UNAVAILABLE: Server temporarily unavailable"
    )


def test_a_lookup_with_no_part_answered_says_salesforce_is_unavailable(
    org: SalesforceEmulator, crm: SalesforceConnector
) -> None:
    acme = add_account(org, "Acme")
    add_contact(org, "only@acme.com", acme)
    org.fail_queries_naming("only@acme.com")
    with pytest.raises(RetryableError):
        match_responses([response("only@acme.com")], crm, None, NO_RETRY, wait_unanswered=True)
