"""Shared-query lookups: several kinds of key in one SOQL, within the value, URI and literal
limits, every value escaped."""

from __future__ import annotations

from urllib.parse import quote_plus

from connectors.salesforce.soql import MAX_ENCODED_QUERY, like_batches, or_in_batches

SELECT = "SELECT Id FROM Contact"


def test_ids_and_emails_share_queries_of_at_most_200_values() -> None:
    ids = [f"003{i:012d}" for i in range(150)]
    emails = [f"p{i}@acme.example" for i in range(150)]
    batches = list(or_in_batches(SELECT, {"Id": ids, "Email": emails}))
    assert [sum(map(len, values.values())) for _, values in batches] == [200, 100]
    first, second = (soql for soql, _ in batches)
    assert " WHERE Id IN (" in first
    assert " OR Email IN (" in first
    assert second.startswith(f"{SELECT} WHERE Email IN (")  # no empty "Id IN ()"
    assert sorted(v for _, values in batches for v in values.get("Email", [])) == sorted(emails)


def test_nothing_to_look_up_sends_nothing() -> None:
    assert list(or_in_batches(SELECT, {"Id": [], "Email": []})) == []


def test_long_values_split_by_the_encoded_length() -> None:
    emails = [f"{'x' * 300}{i}@acme.example" for i in range(200)]
    batches = list(or_in_batches(SELECT, {"Email": emails}))
    assert len(batches) > 1
    assert all(len(quote_plus(soql)) <= MAX_ENCODED_QUERY for soql, _ in batches)


def test_values_are_escaped_and_too_long_ones_dropped() -> None:
    [(soql, values)] = list(
        or_in_batches(SELECT, {"Email": ["o'hara\\' OR Name != '@x.example", "a" * 4001]})
    )
    assert soql == f"{SELECT} WHERE Email IN ('o\\'hara\\\\\\' OR Name != \\'@x.example')"
    assert values == {"Email": ["o'hara\\' OR Name != '@x.example"]}


def test_like_fragments_match_only_themselves() -> None:
    [(soql, _)] = list(like_batches("SELECT Id FROM Account", "Website", ["a%b_c.example"]))
    assert soql == "SELECT Id FROM Account WHERE (Website LIKE '%a\\%b\\_c.example%')"
    chunks = list(
        like_batches("SELECT Id FROM Account", "Website", [f"d{i}.io" for i in range(120)])
    )
    assert [len(fragments) for _, fragments in chunks] == [50, 50, 20]
