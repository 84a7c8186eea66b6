"""Large lookups read by Bulk API 2.0 query jobs: the same answers as the REST queries, the
threshold that switches between them, and failed jobs in our error tiers. The real
simple-salesforce client against the emulated org."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.errors import ConfigError, RetryableError
from connectors.salesforce.client import SalesforceConnector
from emulators.base import Fault
from emulators.salesforce import SalesforceEmulator
from tests.salesforce.conftest import ConnectorFactory, add_account, add_contact

BULK_CALLS = ("bulk2_query_create", "bulk2_query_get", "bulk2_query_results")


@pytest.fixture
def book(org: SalesforceEmulator) -> tuple[list[str], list[str], list[str]]:
    """Accounts with typed fields (some null), contacts of them and one without an account."""
    accounts = [
        add_account(
            org,
            f"Account {i}",
            Tier__c="Enterprise" if i % 2 else None,
            ARR__c=125000.5 * i if i else None,
            Renewal_Date__c=date(2027, 1, i + 1).isoformat(),
            Website=f"https://www.a{i}.example",
        )
        for i in range(4)
    ]
    emails = [f"p{i}@a{i % 4}.example" for i in range(12)]
    contacts = [
        add_contact(
            org, email, accounts[i % 4], NPS_Last_Score__c=i % 11, HasOptedOutOfEmail=i == 3
        )
        for i, email in enumerate(emails)
    ]
    contacts.append(add_contact(org, "loner@free.example", None))
    return accounts, contacts, [*emails, "loner@free.example", "nobody@a1.example"]


def calls(org: SalesforceEmulator, *names: str) -> int:
    return sum(org.calls[name] for name in names)


def test_contacts_read_by_bulk_are_the_ones_rest_reads(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
) -> None:
    _, contacts, emails = book
    rest = connect(query_bulk_threshold=0)
    bulk = connect(query_bulk_threshold=5, bulk_poll_seconds=0.01, bulk_query_page=4)

    by_rest = rest.find_contacts(ids=contacts[:6], emails=emails)
    queries_before = calls(org, "query", "query_more")
    by_bulk = bulk.find_contacts(ids=contacts[:6], emails=emails)

    assert by_bulk == by_rest
    assert len(by_rest.by_id) == 13
    assert by_rest.by_email["p1@a1.example"][0].account is not None
    assert by_rest.by_email["loner@free.example"][0].account is None
    assert calls(org, "query", "query_more") == queries_before  # no REST query on the bulk path
    assert org.calls["bulk2_query_create"] == 1
    assert org.calls["bulk2_query_results"] == 4  # 13 records, 4 a page


def test_accounts_and_read_back_fields_are_the_same_by_both_paths(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
) -> None:
    accounts, contacts, _ = book
    rest = connect(query_bulk_threshold=0)
    bulk = connect(query_bulk_threshold=2, bulk_poll_seconds=0.01)
    names = ["Account 1", "account 2", "Missing"]
    domains = ["a0.example", "a3.example"]

    assert bulk.find_accounts_by(ids=accounts[:2], names=names, domains=domains) == (
        rest.find_accounts_by(ids=accounts[:2], names=names, domains=domains)
    )
    fields = ["NPS_Last_Score__c", "HasOptedOutOfEmail", "Title", "Email"]
    by_rest = rest.read_fields("Contact", contacts, fields)
    by_bulk = bulk.read_fields("Contact", contacts, fields)
    assert by_bulk == by_rest
    assert by_bulk[contacts[3]] == {
        "NPS_Last_Score__c": 3.0,
        "HasOptedOutOfEmail": True,
        "Title": None,
        "Email": "p3@a3.example",
    }
    assert org.calls["bulk2_query_create"] == 2


def test_the_threshold_counts_the_values_asked_for(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
) -> None:
    _, contacts, _ = book
    crm = connect(query_bulk_threshold=5, bulk_poll_seconds=0.01)

    crm.read_fields("Contact", contacts[:5], ["Email"])
    assert (calls(org, *BULK_CALLS), org.calls["query"]) == (0, 1)

    crm.read_fields("Contact", contacts[:6], ["Email"])
    assert org.calls["bulk2_query_create"] == 1
    assert org.calls["query"] == 1


def test_thousands_of_ids_go_in_few_jobs_instead_of_many_queries(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
) -> None:
    _, contacts, _ = book
    unknown = [f"003{n:012d}" for n in range(1, 6000)]
    bulk = connect(query_bulk_threshold=2000, bulk_poll_seconds=0.01)
    rest = connect(query_bulk_threshold=0)

    found = bulk.read_fields("Contact", [*contacts, *unknown], ["Email"])
    jobs = org.calls["bulk2_query_create"]
    bulk_calls = calls(org, *BULK_CALLS)
    queries_before = org.calls["query"]
    assert rest.read_fields("Contact", [*contacts, *unknown], ["Email"]) == found

    assert set(found) == set(contacts)
    assert jobs == 2  # 6,012 ids, at most 4,000 a job
    assert org.calls["query"] - queries_before == 31  # 200 ids a query
    assert bulk_calls <= 8


def test_a_query_job_outlives_failed_requests_of_its_own(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
) -> None:
    """The job's create, polls and pages each fail in a row (a 503, a reset): each is asked
    again and the lookup gets every record from the one job it needed. Before, the first failed
    request failed the whole lookup, for its retry to start a new job; a lookup of a large
    backlog is many jobs, rarely all through at once under steady faults."""
    _, contacts, _ = book
    bulk = connect(query_bulk_threshold=5, bulk_poll_seconds=0.001, bulk_query_page=4)
    org.bulk_polls_to_complete = 2
    org.inject(Fault("503", count=2, endpoint="^bulk2_query_create$"))
    org.inject(Fault("reset", count=2, endpoint="^bulk2_query_get$"))
    org.inject(Fault("503", count=2, endpoint="^bulk2_query_results$"))

    found = bulk.read_fields("Contact", contacts, ["Email"])

    assert set(found) == set(contacts)
    assert len(org.fault_log) == 6
    assert org.calls["bulk2_query_create"] == 3  # two failed, then the job
    assert org.calls["bulk2_query_results"] == 2 + 4  # two failed, then 13 records, 4 a page


@pytest.mark.parametrize(
    ("message", "tier"),
    [
        ("QUERY_TIMEOUT: Your query request was running for too long.", RetryableError),
        ("INVALID_FIELD: No such column 'Gone__c' on entity 'Contact'", ConfigError),
        ("InternalServerError : the job could not be processed", RetryableError),
    ],
)
def test_a_failed_job_is_raised_in_our_tiers(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
    message: str,
    tier: type[Exception],
) -> None:
    _, contacts, _ = book
    crm: SalesforceConnector = connect(query_bulk_threshold=1, bulk_poll_seconds=0.01)
    org.fail_bulk_queries(message)

    with pytest.raises(tier) as caught:
        crm.read_fields("Contact", contacts, ["Email"])

    assert f"Bulk query job failed: {message}" in str(caught.value)
    assert crm.read_fields("Contact", contacts, ["Email"]).keys() == set(contacts)


def test_a_lookup_retried_after_a_failed_job_runs_only_the_jobs_left(
    org: SalesforceEmulator,
    connect: ConnectorFactory,
    book: tuple[list[str], list[str], list[str]],
) -> None:
    """9,012 ids are three jobs; the second ends Failed (a timeout on Salesforce's side). The
    retry of the lookup runs the second and third jobs, not the first again."""
    _, contacts, _ = book
    unknown = [f"003{n:012d}" for n in range(1, 9000)]
    crm = connect(query_bulk_threshold=2000, bulk_poll_seconds=0.01)
    created = 0

    def fail_the_second_job(endpoint: str, phase: str) -> None:
        nonlocal created
        if endpoint == "bulk2_query_create" and phase == "handled":
            created += 1
            if created == 2:
                org.fail_bulk_queries("QUERY_TIMEOUT: Your query request was running for too long.")

    org.observers.append(fail_the_second_job)

    with pytest.raises(RetryableError):
        crm.read_fields("Contact", [*contacts, *unknown], ["Email"])
    assert org.calls["bulk2_query_create"] == 2
    found = crm.read_fields("Contact", [*contacts, *unknown], ["Email"])

    assert set(found) == set(contacts)
    assert org.calls["bulk2_query_create"] == 4
    crm.read_fields("Contact", [*contacts, *unknown], ["Email"])  # a new lookup: every job
    assert org.calls["bulk2_query_create"] == 7
