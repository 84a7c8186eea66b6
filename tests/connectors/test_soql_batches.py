"""IN lookups are split to respect Salesforce's value, URI and literal limits, and escaped."""

from __future__ import annotations

from urllib.parse import quote_plus

from connectors.salesforce.soql import MAX_ENCODED_QUERY, in_batches

TEMPLATE = "SELECT Id FROM Contact WHERE Email IN {values}"


def test_at_most_200_values_per_query() -> None:
    emails = [f"person{i}@example.com" for i in range(450)]
    batches = list(in_batches(TEMPLATE, emails))
    assert [len(values) for _, values in batches] == [200, 200, 50]
    assert sorted(v for _, values in batches for v in values) == sorted(emails)


def test_long_values_split_by_encoded_length() -> None:
    emails = [f"{'x' * 300}{i}@example.com" for i in range(120)]
    batches = list(in_batches(TEMPLATE, emails))
    assert len(batches) > 1
    assert all(len(quote_plus(soql)) <= MAX_ENCODED_QUERY for soql, _ in batches)


def test_values_are_escaped_not_concatenated() -> None:
    nasty = "o'hara\\' OR Name LIKE '%@example.com"
    [(soql, _)] = list(in_batches(TEMPLATE, [nasty]))
    assert soql == (
        "SELECT Id FROM Contact WHERE Email IN ('o\\'hara\\\\\\' OR Name LIKE \\'%@example.com')"
    )


def test_values_longer_than_a_literal_are_dropped() -> None:
    assert list(in_batches(TEMPLATE, ["a" * 4001])) == []
