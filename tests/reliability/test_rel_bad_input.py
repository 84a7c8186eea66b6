"""Bad-input corpus: malformed responses from the Delighted API and from CSV/JSONL exports.

Every bad record is either rejected with a reason an admin can act on (kept in the store as a
problem, with where it came from) or handled (cleaned, cut, escaped, deduplicated). None stops the
run, and every good record around them lands in Salesforce and Zendesk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.surveys.fields import masked
from emulators.world import EmulatedWorld
from sync.app.engine import Engine
from sync.state import StoredResponse
from tests.reliability.conftest import MARKER, fast_engine, world_config

NOW = datetime.now(UTC).replace(microsecond=0)
EARLIER = NOW - timedelta(days=3)
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)
MEGABYTE = "x" * (1 << 20)
SCRIPT = "<script>alert('nps')</script><b>bold</b> & 'quotes' \"too\""


@dataclass(frozen=True)
class Bad:
    """A malformed Delighted response: its fields, and the reason expected (or None if handled)."""

    name: str
    fields: dict[str, Any]
    reason: str | None


def delighted_corpus(good_email: str) -> list[Bad]:
    def r(name: str, reason: str | None, **fields: Any) -> Bad:
        base: dict[str, Any] = {"email": good_email, "score": 3, "comment": "fine"}
        return Bad(name, {**base, **fields}, reason)

    scores: list[Bad] = [
        r(f"score {value!r}", f"score {value!r} is not a whole number from 0 to 10", score=value)
        for value in (11, -1, 5.5, 100, True, "ten", "", "7.0", [7])
    ]
    scores[6] = r("score ''", "missing score", score="")
    scores[8] = r("score [7]", "score (a list) is not a whole number from 0 to 10", score=[7])
    return [
        *scores,
        r("score None", "missing score", score=None),
        r("no email", "missing email", email=""),
        r("not an address", "invalid email (no @): 'n***-a***-e***'", email="not-an-email"),
        r("no dot in domain", "invalid email (no dot in the domain): 'a***@b***'", email="a@b"),
        r(
            "two @",
            "invalid email (more than one @): 'a***@b***@e***.c***'",
            email="a@b@example.com",
        ),
        r(
            "SOQL injection",
            "invalid email (a space inside): \"x***' O*** E*** != '\"",
            email="x' OR Email != '",
        ),
        r("SOQL wildcard", None, email="100%_sure@example.com", score=1),
        r(
            "bell in email",
            "invalid email (a control character inside): 'b***\\x07@e***.c***'",
            email="bell\x07@example.com",
        ),
        r(
            "space in email",
            "invalid email (a space inside): 'a*** b***@e***.c***'",
            email="a b@example.com",
        ),
        r("CSAT", "survey type 'csat' is not NPS", survey_type="csat"),
        r(
            "future created_at",
            f"created_at {FUTURE.isoformat()} is in the future (ahead of this machine's clock)",
            created_at=FUTURE,
            updated_at=EARLIER,
        ),
        r(
            "epoch created_at",
            "created_at 1970-01-01T00:00:00+00:00 is before 2000",
            created_at=datetime(1970, 1, 1, tzinfo=UTC),
            updated_at=EARLIER,
        ),
        # Handled: cleaned, cut or kept as data.
        r("quote in address", None, email="o'brien+nps@example.com", score=2),
        r("upper-case address", None, email=good_email.upper(), score=9, comment="caps"),
        r("megabyte comment", None, comment=MEGABYTE, score=1),
        r("control characters", None, comment="a\x00b\x1bc\x7fd\ttab\nline", score=1),
        r("lone surrogate", None, comment="broken \ud800 text", score=1),
        # From a colleague of the same customer, so no cooldown of the good respondent holds
        # back its Task.
        r(
            "script in comment",
            None,
            comment=SCRIPT,
            score=0,
            email=f"script.author@{good_email.rpartition('@')[2]}",
        ),
        r("score as text", None, score="4", comment="text score"),
        r("emoji and RTL", None, comment="👎 \u202egnorw\u202c service", score=2),
    ]


def jsonl_corpus(path: Path, good_email: str) -> tuple[bytes, dict[int, str | None]]:
    """Lines of a JSONL export and, per line number, the reason expected (None: handled)."""
    created = EARLIER.isoformat()

    def rec(**fields: Any) -> bytes:
        base = {"response_id": None, "email": good_email, "score": 3, "created_at": created}
        return json.dumps({**base, **fields}).encode()

    lines: list[tuple[bytes, str | None]] = [
        (b'{"response_id": "j1", "email": ', "invalid JSON: Expecting value at column 32"),
        (b"[1, 2, 3]", "expected a JSON object"),
        (b'"just text"', "expected a JSON object"),
        (b'{"response_id": "j4", "score": 3, "email": "\xff\xfe@x.com"}', "not valid UTF-8"),
        (rec(response_id="j5", email=None), "missing email"),
        (rec(response_id="j6", score="ten"), "score 'ten' is not a whole number from 0 to 10"),
        (rec(response_id="j7", score=10.5), "score 10.5 is not a whole number from 0 to 10"),
        (rec(response_id="j8", created_at="yesterday"),
         "created_at 'yesterday' is not a Unix time or ISO 8601 date"),
        (rec(response_id="j9", created_at="2099-01-01T00:00:00Z"),
         "created_at 2099-01-01T00:00:00+00:00 is in the future (ahead of this machine's "
         "clock); the file is read again from 2098-12-31 23:55:00 UTC"),
        (rec(response_id="j10", email="robert'); DROP TABLE nps_responses;--@x.com"), None),
        (rec(response_id="x" * 300), None),
        (rec(response_id={"nested": 1}), "response id (an object) is not text or a number"),
        (rec(response_id="j13", comment=MEGABYTE, score=0), None),
        (rec(response_id="j14", comment=SCRIPT, score=1), None),
        (rec(response_id="j15", comment="dup", score=2), None),
        (rec(response_id="j15", comment="dup", score=2), None),  # the same record twice
        (rec(response_id="j17", email="ctrl\x1b@example.com"), None),
        (b'{"response_id": "j18", "comment": "cut',
         "invalid JSON: Unterminated string starting at column 35"),
    ]  # fmt: skip
    reasons: dict[int, str | None] = {n: reason for n, (_, reason) in enumerate(lines, start=1)}
    reasons[10] = "invalid email (a space inside): " + repr(
        masked("robert'); DROP TABLE nps_responses;--@x.com")
    )
    reasons[11] = "response id longer than 200 characters: " + repr("x" * 300)[:57] + "..."
    reasons[17] = "invalid email (a control character inside): 'c***\\x1b@e***.c***'"
    return b"\n".join(line for line, _ in lines) + b"\n", reasons


def csv_corpus(good_email: str) -> tuple[bytes, dict[int, str | None]]:
    created = EARLIER.isoformat()
    header = b"response_id,email,score,comment,created_at,name"
    rows: list[tuple[bytes, str | None]] = [
        (f"c1,{good_email},11,too high,{created},Ann".encode(),
         "score '11' is not a whole number from 0 to 10"),
        (f"c2,{good_email},,no score,{created},Ann".encode(), "missing score"),
        (f"c3,{good_email},3,extra,{created},Ann,surplus".encode(), "expected 6 columns, found 7"),
        (f"c4,{good_email},3,short".encode(), "expected 6 columns, found 4"),
        (f"c5,{good_email},3,".encode() + b"caf\xe9 latin-1" + f",{created},Ann".encode(),
         "not valid UTF-8"),
        (f"c6,{good_email},3,when?,31/12/2025,Ann".encode(),
         "created_at '31/12/2025' is not a Unix time or ISO 8601 date"),
        (f"c7,Not An Email,3,x,{created},Ann".encode(),
         "invalid email (a space inside): 'N*** A*** E***'"),
        (f"c8,{good_email},-0,signed,{created},Ann".encode(),
         "score '-0' is not a whole number from 0 to 10"),
        (f'c9,{good_email},2,"multi\nline, with comma",{created},"=HYPERLINK(""x"")"'.encode(),
         None),
        (f'c10,{good_email},3,"unterminated,{created},Ann'.encode(),
         "malformed CSV: unexpected end of data"),
    ]  # fmt: skip
    data = b"\n".join([header, *(row for row, _ in rows)]) + b"\n"
    lines = [2, 3, 4, 5, 6, 7, 8, 9, 10, 12]  # the multi-line row takes lines 10 and 11
    return data, {line: reason for line, (_, reason) in zip(lines, rows, strict=True)}


def file_source(path: Path) -> dict[str, Any]:
    return {"type": "file", "path": str(path), "name": path.name}


@pytest.fixture
def corpus_world() -> Any:
    with EmulatedWorld(seed=61, accounts=20, responses=60) as world:
        yield world


def run_corpus(world: EmulatedWorld, tmp_path: Path) -> tuple[Engine, dict[str, str]]:
    """Load the corpus into the emulator and export files, run one pass; problems by location."""
    good = world.book.contacts[0].email
    for bad in delighted_corpus(good):
        fields = {"created_at": EARLIER, **bad.fields}
        world.delighted.add_response(response_id=f"bad-{bad.name}", **fields)
    jsonl, _ = jsonl_corpus(tmp_path / "export.jsonl", good)
    (tmp_path / "export.jsonl").write_bytes(jsonl)
    csv, _ = csv_corpus(good)
    (tmp_path / "export.csv").write_bytes(csv)
    sources = world_config(world, "sqlite://")["sources"]
    sources += [file_source(tmp_path / "export.jsonl"), file_source(tmp_path / "export.csv")]
    engine = fast_engine(world, f"sqlite:///{tmp_path / 'state.db'}", sources=sources)
    report = engine.run_once()
    assert report.errors == []  # nothing crashed, nothing failed
    problems: dict[str, str] = {}
    for text in report.problems:
        location, _, reason = text.partition(": ")
        assert location not in problems, f"reported twice: {text}"
        problems[location] = reason
    return engine, problems


def test_rel_every_bad_record_is_rejected_with_its_reason_or_handled(
    corpus_world: EmulatedWorld, tmp_path: Path
) -> None:
    engine, problems = run_corpus(corpus_world, tmp_path)
    good = corpus_world.book.contacts[0].email
    expected: dict[str, str | None] = {
        f"delighted response bad-{bad.name}": bad.reason for bad in delighted_corpus(good)
    }
    jsonl = tmp_path / "export.jsonl"
    expected.update({f"{jsonl}:{n}": why for n, why in jsonl_corpus(jsonl, good)[1].items()})
    csv = tmp_path / "export.csv"
    expected.update({f"{csv}:{n}": why for n, why in csv_corpus(good)[1].items()})

    assert len(expected) >= 50
    rejected = {where: why for where, why in expected.items() if why is not None}
    assert problems == rejected
    assert engine.store.inbox.problem_count() == len(rejected)


def stored(engine: Engine, source: str, rid: str) -> StoredResponse:
    found = engine.store.inbox.get(source, rid)
    assert found is not None, rid
    return found


def test_rel_handled_records_are_cleaned_and_the_rest_lands(
    corpus_world: EmulatedWorld, tmp_path: Path
) -> None:
    engine, _ = run_corpus(corpus_world, tmp_path)
    contact = corpus_world.book.contacts[0]
    get: Callable[[str], StoredResponse] = lambda rid: stored(engine, "delighted", rid)  # noqa: E731

    big = get("bad-megabyte comment").response
    assert len(big.comment) == 32_000
    assert big.properties["comment_truncated_from"] == str(len(MEGABYTE))
    assert get("bad-control characters").response.comment == "abcd\ttab\nline"
    assert get("bad-lone surrogate").response.comment == "broken  text"
    assert get("bad-quote in address").response.email == "o'brien+nps@example.com"
    for rid in ("bad-quote in address", "bad-SOQL wildcard"):  # looked up safely, just unknown
        assert (get(rid).match or {}).get("status") == "unmatched"
    assert get("bad-SOQL wildcard").response.email == "100%_sure@example.com"
    assert get("bad-upper-case address").response.email == contact.email
    assert get("bad-score as text").response.score == 4
    assert get("bad-script in comment").response.comment == SCRIPT
    file_rows = {r.response.response_id for r in engine.store.inbox.routed(
        contact_ids=[contact.id])}  # fmt: skip
    assert {"j13", "j14", "j15", "c9"} <= file_rows

    # Survey text reaches Salesforce and Zendesk as data, cut to what the fields hold.
    tasks = [t for t in corpus_world.salesforce.records("Task") if t.get(MARKER)]
    scripted = [t for t in tasks if "alert('nps')" in (t["Description"] or "")]
    assert scripted
    assert all(len(t["Description"]) <= 32_000 for t in tasks)
    record = corpus_world.salesforce.get_record("Contact", contact.id)
    assert record is not None
    assert len(record["NPS_Last_Comment__c"] or "") <= 1000
    # Every good record of the seed landed next to the bad ones.
    seed_ids = {r.id for r in corpus_world.book.responses}
    contact_ids = [c.id for c in corpus_world.book.contacts]
    routed = {r.response.response_id for r in engine.store.inbox.routed(contact_ids=contact_ids)}
    known = {c.email for c in corpus_world.book.contacts}
    assert {r.id for r in corpus_world.book.responses if r.email.lower() in known} <= routed
    assert engine.store.inbox.counts().get("pending", 0) == 0
    assert seed_ids
