"""SOQL tokens, with Salesforce's exact string-literal escape rules.

Inside ``'...'`` only ``\\n \\r \\t \\b \\f \\" \\' \\\\ \\uXXXX`` are escapes; ``\\%`` and ``\\_``
are allowed but mean a literal ``%``/``_`` and are only legal in a LIKE pattern (the parser
checks where a literal is used); any other backslash is an error. Each string token carries its
decoded value and, for LIKE, an anchored regular expression of the pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

MAX_LITERAL: Final = 4000

_SIMPLE_ESCAPES: Final = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    '"': '"',
    "'": "'",
    "\\": "\\",
}
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_DATETIME: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})(?![\w.:])"
)
#: A dateTime whose zone SOQL does not accept: no zone, or an offset without its colon
#: (``+0000``, the form the REST API writes in its answers, is not a SOQL literal).
_BAD_DATETIME: Final = re.compile(r"\d{4}-\d{2}-\d{2}T[\d:.]+(?:[+-]\d{2,4})?(?![\w.:])")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w.:])")
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?![\w.])")
_OPERATORS: Final = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCTUATION: Final = {",": "COMMA", "(": "LPAREN", ")": "RPAREN", ":": "COLON"}
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class Kind(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OP = "operator"
    COMMA = "','"
    LPAREN = "'('"
    RPAREN = "')'"
    COLON = "':'"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    pos: int
    value: Any = None
    like_regex: str | None = None
    like_only: bool = False

    def is_word(self, *words: str) -> bool:
        return self.kind is Kind.IDENT and self.text.upper() in words


class SoqlError(Exception):
    """A query Salesforce would reject; ``pos`` is the offset the error points at."""

    def __init__(self, detail: str, pos: int, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(detail)
        self.detail = detail
        self.pos = pos
        self.code = code

    def render(self, query: str) -> str:
        """Salesforce's layout: the offending line, a caret, ``ERROR at Row:r:Column:c``."""
        pos = max(0, min(self.pos, len(query)))
        row = query.count("\n", 0, pos) + 1
        line_start = query.rfind("\n", 0, pos) + 1
        line_end = query.find("\n", pos)
        line = query[line_start : line_end if line_end >= 0 else len(query)]
        column = pos - line_start + 1
        start = max(0, column - 1 - 100)
        shown = line[start : column - 1 + 100]
        caret = " " * (column - 1 - start) + "^"
        return f"\n{shown}\n{caret}\nERROR at Row:{row}:Column:{column}\n{self.detail}"


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        char = query[pos]
        if char in " \t\r\n\f":
            pos += 1
            continue
        if char == "'":
            token, pos = _string(query, pos)
            tokens.append(token)
            continue
        token_or_none = _match_value(query, pos)
        if token_or_none is not None:
            tokens.append(token_or_none)
            pos += len(token_or_none.text)
            continue
        ident = _IDENT.match(query, pos)
        if ident:
            tokens.append(Token(Kind.IDENT, ident.group(), pos))
            pos = ident.end()
            continue
        operator = next((op for op in _OPERATORS if query.startswith(op, pos)), None)
        if operator is not None:
            tokens.append(Token(Kind.OP, operator, pos, "!=" if operator == "<>" else operator))
            pos += len(operator)
            continue
        if char in _PUNCTUATION:
            tokens.append(Token(Kind[_PUNCTUATION[char]], char, pos))
            pos += 1
            continue
        raise SoqlError(f"line 1:{pos} no viable alternative at character '{char}'", pos)
    tokens.append(Token(Kind.EOF, "", len(query)))
    return tokens


def _match_value(query: str, pos: int) -> Token | None:
    if not _DATETIME.match(query, pos):
        bad = _BAD_DATETIME.match(query, pos)
        if bad:
            raise SoqlError(
                f"line 1:{pos} invalid dateTime literal '{bad.group()}': write "
                "YYYY-MM-DDThh:mm:ssZ or an offset as +hh:mm / -hh:mm",
                pos,
            )
    for pattern, kind in ((_DATETIME, Kind.DATETIME), (_DATE, Kind.DATE), (_NUMBER, Kind.NUMBER)):
        match = pattern.match(query, pos)
        if match:
            text = match.group()
            value: Any = float(text) if kind is Kind.NUMBER else text
            return Token(kind, text, pos, value)
    return None


def _string(query: str, start: int) -> tuple[Token, int]:
    """Decode a quoted literal starting at ``start``; returns the token and the next offset."""
    decoded: list[str] = []
    pattern: list[str] = []
    like_only = False
    pos = start + 1
    while True:
        if pos >= len(query):
            raise SoqlError(f"line 1:{start}: unterminated string literal", start)
        char = query[pos]
        if char == "'":
            pos += 1
            break
        if char != "\\":
            decoded.append(char)
            pattern.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
            pos += 1
            continue
        escape = query[pos + 1 : pos + 2]
        if escape in _SIMPLE_ESCAPES:
            literal = _SIMPLE_ESCAPES[escape]
            pos += 2
        elif escape in ("%", "_"):
            literal = escape
            like_only = True
            pos += 2
        elif escape == "u" and len(query) >= pos + 6 and set(query[pos + 2 : pos + 6]) <= _HEX:
            literal = chr(int(query[pos + 2 : pos + 6], 16))
            pos += 6
        else:
            sequence = query[pos : pos + 2]
            raise SoqlError(
                f"Invalid string literal '{query[start + 1 : pos]}...'. Illegal character "
                f"sequence '{sequence}' in string literal.",
                pos,
            )
        decoded.append(literal)
        pattern.append(re.escape(literal))
    value = "".join(decoded)
    if len(value) > MAX_LITERAL:
        raise SoqlError(
            f"String literal is {len(value)} characters long; the maximum is {MAX_LITERAL}.",
            start,
        )
    token = Token(
        Kind.STRING,
        query[start:pos],
        start,
        value,
        like_regex="".join(pattern),
        like_only=like_only,
    )
    return token, pos
