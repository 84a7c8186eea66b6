"""SOQL syntax: a recursive-descent parser for the subset the product and its tests send.

    SELECT field, Rel.field, ... | COUNT()  FROM Object
    [WHERE condition]  [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...]  [LIMIT n]  [OFFSET n]

Conditions: ``= != <> < > <= >=``, ``[NOT] IN (...)``, ``LIKE``, ``AND``/``OR``/``NOT`` and
parentheses. As in Salesforce, AND and OR may not be mixed at one level without parentheses.
Names are only checked against the schema later (:mod:`soql_bind`); this module knows syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from emulators.salesforce.soql_lexer import Kind, SoqlError, Token, tokenize

MAX_QUERY_LENGTH: Final = 100_000
DATE_LITERALS: Final = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
DATE_N_LITERALS: Final = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"})
RESERVED: Final = frozenset(
    {
        "AND", "ASC", "BY", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN",
        "INCLUDES", "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OFFSET", "OR", "ORDER",
        "SELECT", "WHERE", "WITH", "TRUE", "FALSE",
    }
)  # fmt: skip


#: Keywords that are also object names after FROM (``SELECT Id FROM Group``).
OBJECT_KEYWORDS: Final = frozenset({"GROUP"})


@dataclass(frozen=True, slots=True)
class Path:
    """A field reference as written, e.g. ``Account.Owner.Email``."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in a condition. ``kind``: string, number, null, boolean, date, datetime, relative."""

    kind: str
    value: Any
    pos: int
    like_regex: str | None = None
    like_only: bool = False


@dataclass(frozen=True, slots=True)
class Compare:
    path: Path
    op: str
    literal: Literal


@dataclass(frozen=True, slots=True)
class InList:
    path: Path
    literals: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Like:
    path: Path
    literal: Literal


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class Junction:
    op: str  # "AND" | "OR"
    operands: tuple[Condition, ...]


Condition = Compare | InList | Like | Not | Junction


@dataclass(frozen=True, slots=True)
class OrderItem:
    path: Path
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Query:
    fields: tuple[Path, ...]
    count_only: bool
    sobject: str
    sobject_pos: int
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def parse(text: str) -> Query:
    """Parse one SOQL statement or raise :class:`SoqlError`."""
    if len(text) > MAX_QUERY_LENGTH:
        raise SoqlError(f"SOQL statements cannot be longer than {MAX_QUERY_LENGTH} characters", 0)
    return _Parser(tokenize(text)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.current
        if token.kind is not Kind.EOF:
            self.index += 1
        return token

    def unexpected(self, token: Token | None = None) -> SoqlError:
        token = token or self.current
        if token.kind is Kind.EOF:
            return SoqlError("unexpected token: <EOF>", token.pos)
        return SoqlError(f"unexpected token: '{token.text}'", token.pos)

    def expect_word(self, word: str) -> Token:
        if not self.current.is_word(word):
            raise self.unexpected()
        return self.advance()

    def expect(self, kind: Kind) -> Token:
        if self.current.kind is not kind:
            raise self.unexpected()
        return self.advance()

    # -- grammar -------------------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_word("SELECT")
        count_only, fields = self.select_list()
        self.expect_word("FROM")
        sobject = self.current
        if (
            sobject.kind is not Kind.IDENT
            or "." in sobject.text
            or (sobject.text.upper() in RESERVED and sobject.text.upper() not in OBJECT_KEYWORDS)
        ):
            raise self.unexpected()
        self.advance()
        where = None
        if self.current.is_word("WHERE"):
            self.advance()
            where = self.condition()
        order_by: tuple[OrderItem, ...] = ()
        if self.current.is_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            order_by = self.order_list()
        limit = self.integer_clause("LIMIT")
        offset = self.integer_clause("OFFSET")
        if self.current.kind is not Kind.EOF:
            raise self.unexpected()
        return Query(fields, count_only, sobject.text, sobject.pos, where, order_by, limit, offset)

    def select_list(self) -> tuple[bool, tuple[Path, ...]]:
        if self.current.is_word("COUNT") and self.tokens[self.index + 1].kind is Kind.LPAREN:
            self.advance()
            self.advance()
            if self.current.kind is not Kind.RPAREN:
                raise SoqlError(
                    "aggregate functions other than COUNT() are not supported by the emulator",
                    self.current.pos,
                )
            self.advance()
            return True, ()
        fields = [self.path()]
        while self.current.kind is Kind.COMMA:
            self.advance()
            fields.append(self.path())
        return False, tuple(fields)

    def path(self) -> Path:
        token = self.current
        if token.kind is Kind.LPAREN:
            raise SoqlError(
                "child relationship subqueries are not supported by the emulator", token.pos
            )
        if token.kind is not Kind.IDENT or token.text.upper() in RESERVED:
            raise self.unexpected()
        self.advance()
        return Path(tuple(token.text.split(".")), token.pos)

    def condition(self) -> Condition:
        operands = [self.term()]
        joiner: str | None = None
        while self.current.is_word("AND", "OR"):
            word = self.current.text.upper()
            if joiner is not None and word != joiner:
                raise self.unexpected()
            joiner = word
            self.advance()
            operands.append(self.term())
        if joiner is None:
            return operands[0]
        return Junction(joiner, tuple(operands))

    def term(self) -> Condition:
        if self.current.is_word("NOT"):
            self.advance()
            return Not(self.term())
        if self.current.kind is Kind.LPAREN:
            self.advance()
            inner = self.condition()
            self.expect(Kind.RPAREN)
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        path = self.path()
        token = self.current
        if token.kind is Kind.OP:
            self.advance()
            return Compare(path, str(token.value), self.literal())
        if token.is_word("LIKE"):
            self.advance()
            return Like(path, self.literal())
        negated = False
        if token.is_word("NOT"):
            self.advance()
            negated = True
        if self.current.is_word("IN"):
            self.advance()
            return InList(path, self.literal_list(), negated)
        if self.current.is_word("INCLUDES", "EXCLUDES"):
            raise SoqlError("INCLUDES/EXCLUDES are not supported by the emulator", self.current.pos)
        raise self.unexpected()

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect(Kind.LPAREN)
        if self.current.is_word("SELECT"):
            raise SoqlError(
                "semi-join subqueries are not supported by the emulator", self.current.pos
            )
        literals = [self.literal()]
        while self.current.kind is Kind.COMMA:
            self.advance()
            literals.append(self.literal())
        self.expect(Kind.RPAREN)
        return tuple(literals)

    def literal(self) -> Literal:
        token = self.advance()
        if token.kind is Kind.STRING:
            return Literal("string", token.value, token.pos, token.like_regex, token.like_only)
        if token.kind is Kind.NUMBER:
            return Literal("number", token.value, token.pos)
        if token.kind in (Kind.DATE, Kind.DATETIME):
            return Literal(token.kind.name.lower(), token.text, token.pos)
        word = token.text.upper() if token.kind is Kind.IDENT else ""
        if word == "NULL":
            return Literal("null", None, token.pos)
        if word in ("TRUE", "FALSE"):
            return Literal("boolean", word == "TRUE", token.pos)
        if word in DATE_LITERALS:
            return Literal("relative", (word, 1), token.pos)
        if word in DATE_N_LITERALS:
            self.expect(Kind.COLON)
            amount = self.expect(Kind.NUMBER)
            if not float(amount.value).is_integer() or amount.value < 0:
                raise self.unexpected(amount)
            return Literal("relative", (word, int(amount.value)), token.pos)
        raise self.unexpected(token)

    def order_list(self) -> tuple[OrderItem, ...]:
        items = [self.order_item()]
        while self.current.kind is Kind.COMMA:
            self.advance()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        path = self.path()
        descending = False
        if self.current.is_word("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        # Salesforce documents "by default, null values are sorted first", ASC or DESC.
        nulls_first = True
        if self.current.is_word("NULLS"):
            self.advance()
            if not self.current.is_word("FIRST", "LAST"):
                raise self.unexpected()
            nulls_first = self.advance().text.upper() == "FIRST"
        return OrderItem(path, descending, nulls_first)

    def integer_clause(self, word: str) -> int | None:
        if not self.current.is_word(word):
            return None
        self.advance()
        token = self.expect(Kind.NUMBER)
        value = float(token.value)
        if not value.is_integer() or value < 0 or token.text.startswith(("+", "-")):
            raise self.unexpected(token)
        return int(value)
