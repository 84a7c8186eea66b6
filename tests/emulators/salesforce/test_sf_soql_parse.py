"""The SOQL lexer and parser: what parses, into what, and what Salesforce would reject."""

from __future__ import annotations

import re

import pytest

from emulators.salesforce.soql_lexer import Kind, SoqlError, tokenize
from emulators.salesforce.soql_parser import (
    Compare,
    InList,
    Junction,
    Like,
    Not,
    Query,
    parse,
)


def string_value(literal_source: str) -> str:
    [token, _eof] = tokenize(literal_source)
    assert token.kind is Kind.STRING
    return str(token.value)


@pytest.mark.parametrize(
    ("source", "decoded"),
    [
        (r"'plain'", "plain"),
        (r"''", ""),
        (r"'it\'s'", "it's"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'line\nbreak'", "line\nbreak"),
        (r"'cr\rtab\t'", "cr\rtab\t"),
        (r"'bell\bform\f'", "bell\bform\f"),
        (r"'\u00e9t\u00C9'", "étÉ"),
        (r"'100\%'", "100%"),
        (r"'snake\_case'", "snake_case"),
        ("'raw\nnewline'", "raw\nnewline"),
        (r"'SELECT FROM WHERE'", "SELECT FROM WHERE"),
    ],
)
def test_string_literals_decode_exactly_the_soql_escapes(source: str, decoded: str) -> None:
    assert string_value(source) == decoded


@pytest.mark.parametrize(
    "source",
    [r"'\a'", r"'\x41'", r"'\u12'", r"'\uZZZZ'", r"'trailing\'", "'unterminated", r"'\0'"],
)
def test_any_other_backslash_or_broken_quoting_is_rejected(source: str) -> None:
    with pytest.raises(SoqlError):
        tokenize(source)


def test_like_regex_keeps_escaped_wildcards_literal() -> None:
    [token, _] = tokenize(r"'a\_b%c_'")
    assert token.like_only is True
    assert token.like_regex == "a_b.*c."


def test_a_literal_longer_than_4000_characters_is_rejected() -> None:
    tokenize("'" + "x" * 4000 + "'")
    with pytest.raises(SoqlError, match="maximum is 4000"):
        tokenize("'" + "x" * 4001 + "'")


@pytest.mark.parametrize(
    ("source", "kind", "value"),
    [
        ("2024-02-29", Kind.DATE, "2024-02-29"),
        ("2024-02-29T10:00:00Z", Kind.DATETIME, "2024-02-29T10:00:00Z"),
        ("2024-02-29T10:00:00.123+01:00", Kind.DATETIME, "2024-02-29T10:00:00.123+01:00"),
        ("2024-02-29T10:00:00-08:00", Kind.DATETIME, "2024-02-29T10:00:00-08:00"),
        ("42", Kind.NUMBER, 42.0),
        ("-3.5", Kind.NUMBER, -3.5),
        ("Account.Owner.Email", Kind.IDENT, None),
    ],
)
def test_values_and_dotted_names_are_single_tokens(source: str, kind: Kind, value: object) -> None:
    [token, _] = tokenize(source)
    assert token.kind is kind
    if value is not None:
        assert token.value == value


@pytest.mark.parametrize("source", ["2024-02-29T10:00:00-0800", "2024-02-29T10:00:00"])
def test_a_datetime_without_a_documented_zone_is_rejected(source: str) -> None:
    with pytest.raises(SoqlError, match="invalid dateTime literal"):
        tokenize(source)


def test_group_is_an_object_name_after_from() -> None:
    query = parse("SELECT Id FROM Group WHERE Type = 'Queue'")
    assert isinstance(query, Query)
    assert query.sobject == "Group"


def test_select_list_relationships_and_clauses() -> None:
    query = parse(
        "select Id, Account.Name, Account.Owner.Email from Contact "
        "where Email != null order by LastName desc nulls first, Id limit 10 offset 5"
    )
    assert isinstance(query, Query)
    assert [f.text for f in query.fields] == ["Id", "Account.Name", "Account.Owner.Email"]
    assert query.sobject == "Contact"
    assert query.where == Compare(query.where.path, "!=", query.where.literal)  # type: ignore[union-attr]
    [first, second] = query.order_by
    assert (first.path.text, first.descending, first.nulls_first) == ("LastName", True, True)
    assert (second.path.text, second.descending, second.nulls_first) == ("Id", False, True)
    assert (query.limit, query.offset) == (10, 5)


def test_count_query() -> None:
    query = parse("SELECT COUNT() FROM Account")
    assert query.count_only is True
    assert query.fields == ()


def test_condition_tree_with_not_in_like_and_parentheses() -> None:
    query = parse(
        "SELECT Id FROM Contact WHERE (Email LIKE '%@x.com' OR Email IN ('a@b.c', null)) "
        "AND NOT Title = 'CEO' AND Email NOT IN ('z@z.z')"
    )
    where = query.where
    assert isinstance(where, Junction)
    assert where.op == "AND"
    inner, negated, not_in = where.operands
    assert isinstance(inner, Junction)
    assert inner.op == "OR"
    assert isinstance(inner.operands[0], Like)
    assert isinstance(inner.operands[1], InList)
    assert [lit.kind for lit in inner.operands[1].literals] == ["string", "null"]
    assert isinstance(negated, Not)
    assert isinstance(not_in, InList)
    assert not_in.negated is True


def test_operators_are_normalised() -> None:
    where = parse("SELECT Id FROM Account WHERE Name <> 'x'").where
    assert isinstance(where, Compare)
    assert where.op == "!="


@pytest.mark.parametrize(
    ("literal", "kind", "value"),
    [
        ("TODAY", "relative", ("TODAY", 1)),
        ("LAST_N_DAYS:30", "relative", ("LAST_N_DAYS", 30)),
        ("n_days_ago:2", "relative", ("N_DAYS_AGO", 2)),
        ("true", "boolean", True),
        ("FALSE", "boolean", False),
        ("NULL", "null", None),
    ],
)
def test_keyword_literals(literal: str, kind: str, value: object) -> None:
    where = parse(f"SELECT Id FROM Task WHERE ActivityDate = {literal}").where  # noqa: S608 - fixed SOQL fragments from the test table
    assert isinstance(where, Compare)
    assert (where.literal.kind, where.literal.value) == (kind, value)


@pytest.mark.parametrize(
    ("soql", "message"),
    [
        ("SELECT FROM Account", "unexpected token: 'FROM'"),
        ("SELECT Id, FROM Account", "unexpected token: 'FROM'"),
        ("SELECT Id Account", "unexpected token: 'Account'"),
        ("SELECT Id FROM", "unexpected token: <EOF>"),
        ("SELECT Id FROM Account WHERE", "unexpected token: <EOF>"),
        (
            "SELECT Id FROM Account WHERE Name = 'a' AND Id = 'b' OR Id = 'c'",
            "unexpected token: 'OR'",
        ),
        ('SELECT Id FROM Account WHERE Name = "double"', "no viable alternative"),
        ("SELECT Id FROM Account WHERE Name = :bound", "unexpected token: ':'"),
        ("SELECT Id FROM Account WHERE Name IN ()", "unexpected token: ')'"),
        ("SELECT Id FROM Account WHERE Name = 'x' extra", "unexpected token: 'extra'"),
        ("SELECT Id FROM Account LIMIT -1", "unexpected token: '-1'"),
        ("SELECT Id FROM Account LIMIT 1.5", "unexpected token: '1.5'"),
        ("SELECT Id FROM Account ORDER BY Name NULLS", "unexpected token: <EOF>"),
        ("SELECT Id FROM Account WHERE Name = 'it's'", "unterminated string literal"),
        ("SELECT COUNT(Id) FROM Account", "COUNT()"),
        ("SELECT (SELECT Id FROM Contacts) FROM Account", "subqueries"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "semi-join"),
        ("SELECT Id FROM Account WHERE Name = 'x' ORDER Name", "unexpected token: 'Name'"),
        ("SELECT Id FROM Account WHERE Id = 'x' # comment", "no viable alternative"),
    ],
)
def test_malformed_queries_are_rejected(soql: str, message: str) -> None:
    with pytest.raises(SoqlError, match=re.escape(message)):
        parse(soql)


def test_a_statement_over_100000_characters_is_rejected() -> None:
    soql = "SELECT Id FROM Account WHERE Name = 'x'" + " " * 100_000
    with pytest.raises(SoqlError, match="100000"):
        parse(soql)


def test_errors_render_like_salesforce_with_row_and_column() -> None:
    soql = "SELECT Id FROM Account WHERE Name = 'a\\qb'"
    with pytest.raises(SoqlError) as caught:
        parse(soql)
    rendered = caught.value.render(soql)
    lines = rendered.split("\n")
    assert lines[1] == soql
    assert lines[2].index("^") == soql.index("\\q")
    assert lines[3] == f"ERROR at Row:1:Column:{soql.index(chr(92)) + 1}"
    assert "Illegal character sequence '\\q'" in lines[4]
