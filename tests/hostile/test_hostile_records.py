"""Hostile survey records, from the Delighted API and from CSV/JSONL exports, in one sync per
backend through the CLI (``nps-sync sync -c FILE``), then a second sync.

The corpus is the bad-input corpus of the reliability suite plus long ids around the column's
200 characters, wildcard and search-syntax emails, slow-regex comments against a rules file full
of them, oversized fields, invalid Unicode, mixed encodings, BOMs, NUL bytes, CR and CRLF line
ends and a file of many thousand bad lines. Each record is either refused with a reason naming
it (``delighted response ID`` or ``FILE:LINE``) or stored cleaned; every good record around them
is routed and acted on; each run stays under its ceilings; the second sync creates nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.world import EmulatedWorld
from sync.state import StateStore
from tests.hostile.conftest import no_crash, run_measured, write
from tests.reliability.conftest import MARKER, world_config, write_config
from tests.reliability.test_rel_bad_input import csv_corpus, delighted_corpus, jsonl_corpus

NOW = datetime.now(UTC).replace(microsecond=0)
CREATED = (NOW - timedelta(days=2)).isoformat()

#: Ceilings of one sync over the whole corpus (~160 hostile records, 20,000 bad lines, the
#: seed's responses) and of the second, which pulls and creates nothing new.
SYNC_SECONDS = 60.0
SYNC_MEGABYTES = 300.0
BAD_LINES = 20_000

SEARCH_SYNTAX_EMAILS = [
    "*@acme.com", "a*b@acme.com", "ann@acme.*", "ann@*.com", "email:ann@acme.com",
    "ann@acme.com OR role:admin", '"ann"@acme.com', "{ann}@acme.com", "a|b@acme.com",
    "a?b@acme.com", "a=b@acme.com", "~ann@acme.com", "a!b@acme.com", "a#b@acme.com",
    "a/b@acme.com", "a&b@acme.com", "a$b@acme.com", "a^b@acme.com", "a`b@acme.com",
    "ann@acme.com\\", "-ann@acme.com,bob@acme.com", "ann@[127.0.0.1]",
]  # fmt: skip
LONG_IDS = {200: None, 201: "longer than 200", 255: "longer than 200", 256: "longer than 200",
            10_000: "longer than 200"}  # fmt: skip

RULES = """\
version: 1
actions:
  call:
    type: salesforce_task
    owner: account_owner
    subject: "NPS {{ response.score }}: call {{ contact.name }}"
    description: "{{ response.comment }}"
    due_in: 1d
rules:
  - name: patterns
    when:
      any:
        - comment: {regex: '(a+)+$'}
        - comment: {regex: '.*.*x$'}
        - comment: {regex: 'a*a*a*a*a*b'}
        - comment: {regex: '(x+x+)+y'}
        - category: detractor
    actions: [call]
"""


def csv_file(good: str) -> tuple[bytes, dict[int, str | None]]:
    """A UTF-8 CSV with hostile rows; the expected reason per line (None: stored)."""
    header = b"response_id,email,score,comment,created_at,name\n"
    rows: list[tuple[bytes, str | None]] = []

    def row(
        rid: str, email: str = good, comment: str = "x", name: str = "Ann", score: str = "3"
    ) -> bytes:
        email = email.replace('"', '""')
        return f'{rid},"{email}",{score},"{comment}",{CREATED},"{name}"'.encode()

    for length, why in LONG_IDS.items():
        rows.append((row("i" * length), why))
    for n, email in enumerate(SEARCH_SYNTAX_EMAILS):
        rows.append((row(f"e{n}", email=email), "invalid email"))
    rows += [
        (row("huge-comment", comment="y" * 1_000_000), None),
        (row("huge-name", name="n" * 10_000), None),
        (row("nul") .replace(b'"x"', b'"a\x00b"'), None),
        (row("latin1").replace(b'"x"', "caf\xe9".encode("latin-1")), "not valid UTF-8"),
        (row("overlong").replace(b'"x"', b"\xc0\xaf"), "not valid UTF-8"),
        (row("surrogate-bytes").replace(b'"x"', b"\xed\xa0\x80"), "not valid UTF-8"),
        (row("regex-bomb-1", comment="a" * 5000 + "!"), None),
        (row("regex-bomb-2", comment="x" * 5000 + "!", score="9"), None),
        (row("template", comment="{{ 7 * 7 }} {% for i in range(10**9) %}{% endfor %}"), None),
        (row("", comment="empty id"), "empty response id"),
        (row("   ", comment="blank id"), "empty response id"),
        (row("tab\tid"), "invalid response id"),
        (row("rtl\u202eid"), "invalid response id"),
        (row("bidi-email", email="ann\u202e@acme.com"), "invalid email"),
        (row("fullwidth", email="ａｎｎ@acme.com"), "invalid email"),
        (row("score-big", score="9" * 5000), "is not a whole number"),
    ]  # fmt: skip
    data = header + b"\n".join(r for r, _ in rows) + b"\n"
    return data, {n: why for n, (_, why) in enumerate(rows, start=2)}


def jsonl_file(good: str) -> tuple[bytes, dict[int, str | None]]:
    def rec(**fields: Any) -> bytes:
        base = {"response_id": None, "email": good, "score": 3, "created_at": CREATED}
        return json.dumps({**base, **fields}).encode()

    lines: list[tuple[bytes, str | None]] = []
    for length, why in LONG_IDS.items():
        lines.append((rec(response_id="j" * length), why))
    for n, email in enumerate(SEARCH_SYNTAX_EMAILS[:8]):
        lines.append((rec(response_id=f"je{n}", email=email), "invalid email"))
    lines += [
        (rec(response_id="j-surrogate", comment="a\ud800b"), None),
        (rec(response_id="j-nul", comment="a\u0000b"), None),
        (b'{"response_id": "j-raw-nul",\x00 "email": "x"}', "invalid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
        (b'{"response_id": "j-digits", "score": ' + b"9" * 5000 + b"}", "invalid JSON"),
        (rec(response_id="j-inf", score=float("inf")), "is not a whole number"),
        (rec(response_id="j-newline\nid"), "invalid response id"),
        (rec(response_id="j-props", properties={"p" * 5000: "v" * 100_000}), None),
        (rec(response_id="j-huge", comment="z" * 2_000_000), None),
        (rec(response_id=["list"]), "is not text or a number"),
        (rec(response_id="j-ts", created_at=1e300), "is not a Unix time"),
    ]  # fmt: skip
    data = b"\xef\xbb\xbf" + b"\r\n".join(line for line, _ in lines) + b"\r\n"
    return data, {n: why for n, (_, why) in enumerate(lines, start=1)}


def delighted_records(good: str) -> dict[str, tuple[dict[str, Any], str | None]]:
    """Response id -> (fields for the emulator, expected reason)."""
    records: dict[str, tuple[dict[str, Any], str | None]] = {}
    for length, why in LONG_IDS.items():
        records["d" * length] = ({"email": good, "score": 2}, why)
    for n, email in enumerate(SEARCH_SYNTAX_EMAILS[8:]):
        records[f"de{n}"] = ({"email": email, "score": 2}, "invalid email")
    records["d-huge"] = ({"email": good, "score": 1, "comment": "q" * 1_000_000}, None)
    records["d-regex"] = ({"email": good, "score": 8, "comment": "a" * 10_000 + "!"}, None)
    return records


def extra_files(tmp_path: Path, good: str) -> dict[str, tuple[bytes, dict[int, str | None]]]:
    """Whole files: encodings, line ends, BOMs, many bad lines. Name -> (bytes, reasons)."""
    header = "response_id,email,score,comment,created_at\n"
    ok = f"{{}},{good},3,fine,{CREATED}\n"
    return {
        "bom.csv": (b"\xef\xbb\xbf" + (header + ok.format("bom-1")).encode(), {2: None}),
        "crlf.csv": ((header + ok.format("crlf-1") + ok.format("crlf-2")).replace(
            "\n", "\r\n").encode(), {2: None, 3: None}),
        "cr.csv": ((header + ok.format("cr-1") + ok.format("cr-2")).replace("\n", "\r").encode(),
                   {}),
        "utf16.csv": ((header + ok.format("u16-1")).encode("utf-16"), {2: None}),
        "utf16.jsonl": (json.dumps({"response_id": "u16j", "email": good, "score": 3,
                                    "created_at": CREATED}).encode("utf-16") + b"\n",
                        {1: "not valid UTF-8"}),
        "binary.csv": (bytes(range(256)) * 40, {1: "missing column"}),
        "many-lines.csv": ((header + "x\n" * BAD_LINES + ok.format("after-many")).encode(),
                           {2: "expected 5 columns, found 1", BAD_LINES + 1:
                            "expected 5 columns, found 1", BAD_LINES + 2: None}),
    }  # fmt: skip


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=89, accounts=15, responses=40) as w:
        yield w


def build_corpus(
    world: EmulatedWorld, tmp_path: Path, state_url: str
) -> tuple[Path, dict[str, str | None]]:
    """Write the files, load the emulator, write the config; expected reason per location."""
    good = world.book.contacts[0].email
    expected: dict[str, str | None] = {}
    sources = world_config(world, state_url)["sources"]

    def add_file(name: str, data: bytes, reasons: dict[int, str | None]) -> None:
        path = write(tmp_path / name, data)
        sources.append({"type": "file", "path": str(path), "name": name})
        expected.update({f"{path}:{line}": why for line, why in reasons.items()})

    add_file("hostile.csv", *csv_file(good))
    add_file("hostile.jsonl", *jsonl_file(good))
    for name, (data, reasons) in extra_files(tmp_path, good).items():
        add_file(name, data, reasons)
    add_file("legacy.jsonl", *jsonl_corpus(tmp_path / "legacy.jsonl", good))
    add_file("legacy.csv", *csv_corpus(good))
    for bad in delighted_corpus(good):
        fields = {"created_at": NOW - timedelta(days=3), **bad.fields}
        world.delighted.add_response(response_id=f"bad-{bad.name}", **fields)
        expected[f"delighted response bad-{bad.name}"] = bad.reason
    for rid, (fields, why) in delighted_records(good).items():
        world.delighted.add_response(response_id=rid, created_at=NOW - timedelta(days=2), **fields)
        shown = rid if len(rid) <= 200 else rid[:200] + "..."
        expected[f"delighted response {shown}"] = why
    rules = write(tmp_path / "rules.yaml", RULES)
    config = write_config(tmp_path / "nps-sync.yaml", world, state_url, sources=sources,
                          rules=str(rules))  # fmt: skip
    return config, expected


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hostile_records_through_the_cli(
    backend: str, world: EmulatedWorld, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
    config, expected = build_corpus(world, tmp_path, url)
    assert len(expected) >= 80 + 50  # the new corpus plus the reliability suite's

    first = run_measured("sync", "-c", str(config), timeout=SYNC_SECONDS * 2)
    no_crash(first)
    # binary.csv has no usable header: nothing of it is read, so the pass ends in an error.
    assert first.code == 1, first.output[-3000:]
    assert "binary.csv:1: missing column(s)" in first.output
    assert first.within(SYNC_SECONDS, SYNC_MEGABYTES), (first.seconds, first.megabytes)

    store = StateStore(url)
    try:
        problems = {p.location: p.reason for p in store.inbox.problems(limit=BAD_LINES * 2)}
        rejected = {where: why for where, why in expected.items() if why is not None}
        for where, why in rejected.items():
            assert where in problems, f"no reason recorded for {where[:120]}"
            assert why in problems[where], (where[:120], problems[where])
        handled = [where for where, why in expected.items() if why is None]
        assert not [where for where in handled if where in problems]
        many = [loc for loc in problems if "many-lines.csv:" in loc]
        assert len(many) == BAD_LINES
        stored = {r.response.response_id: r for r in store.inbox.since(NOW - timedelta(days=400))}
        assert {"i" * 200, "j" * 200, "d" * 200, "bom-1", "crlf-1", "crlf-2", "cr-1",
                "cr-2", "u16-1", "after-many", "huge-comment", "nul", "j-surrogate", "d-huge",
                "regex-bomb-1", "template"} <= set(stored)  # fmt: skip
        assert stored["nul"].response.comment == "ab"
        assert len(stored["huge-comment"].response.comment) == 32_000
        assert len(stored["huge-name"].response.person_name) == 255
        assert stored["template"].response.comment.startswith("{{ 7 * 7 }}")
        # Nothing else in the batch was affected: every response was routed.
        assert store.inbox.counts().get("pending", 0) == 0
        known = {c.email.lower() for c in world.book.contacts}
        seed = {r.id for r in world.book.responses if r.email.lower() in known}
        assert seed <= set(stored)
        assert all(stored[rid].decision is not None for rid in seed)
    finally:
        store.close()
    tasks = [t for t in world.salesforce.records("Task") if t.get(MARKER)]
    tickets = [t for t in world.zendesk.tickets() if t.get("external_id")]
    assert tasks

    second = run_measured("sync", "-c", str(config), timeout=SYNC_SECONDS * 2)
    no_crash(second)
    assert second.code == 0, second.output[-3000:]
    assert second.within(SYNC_SECONDS, SYNC_MEGABYTES), (second.seconds, second.megabytes)
    assert [t for t in world.salesforce.records("Task") if t.get(MARKER)] == tasks
    assert [t for t in world.zendesk.tickets() if t.get("external_id")] == tickets
    for run, result in (("first", first), ("second", second)):
        print(f"\n{backend} {run} sync: {result.seconds} CPU s, {result.megabytes} MB")
