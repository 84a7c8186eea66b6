"""Replays recorded Zendesk traffic (zenpy's betamax cassettes) against the emulator.

For each cassette, the requests the emulator supports are sent in order to a fresh, seeded
account; status codes must match, and the JSON answers must have the same key sets and value
types (``null`` is compatible with any type, lists are compared by their first items). Ids and
cursors differ between the recording and the emulator, so they are learnt from each pair of
answers and substituted into later requests. Error answers must match exactly.

The cassettes live outside the project (``../shared/oracles/zendesk``, or
``$NPS_SYNC_ORACLES/zendesk``); without them the test is skipped, and fails under CI.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from emulators.base import Request
from emulators.seed import generate_seed
from emulators.zendesk import DEFAULT_AGENT_EMAIL, DEFAULT_TOKEN, ZendeskEmulator
from emulators.zendesk.routes import ROUTES, pattern
from tests.support import require

ROOT = Path(__file__).resolve().parents[3]
ORACLES = Path(os.environ.get("NPS_SYNC_ORACLES", ROOT.parent / "shared" / "oracles")) / "zendesk"
PUBLIC = "https://acme.zendesk.com"

CASSETTES = (
    "TestTicketCreateUpdateDelete.test_single_object_creation-create-single",
    "TestTicketCreateUpdateDelete.test_single_object_update-update-single",
    "TestTicketCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update",
    "TestTicketCreateUpdateDelete.test_full_objects_create-create-multiple",
    "TestTicketCreateUpdateDelete.test_single_object_create-create-multiple",
    "TestTicketCreateUpdateDelete.test_multiple_update_full_objects-update-many",
    "TestTicketCreateUpdateDelete.test_raises_toomanyvaluesexception_create-create-multiple",
    "TestUserCreateUpdateDelete.test_single_object_update-update-single",
    "TestUserCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update",
    "TestUserCreateUpdateDelete.test_multiple_update_full_objects-update-many",
    "TestUserCreateUpdateDelete.test_raises_toomanyvaluesexception_create-create-multiple",
    "TestOrganizationCreateUpdateDelete.test_single_object_update-update-single",
    "TestOrganizationCreateUpdateDelete.test_single_update_raises_recordnotfoundexception-recordnotfound-update",
    "TestOrganizationCreateUpdateDelete.test_multiple_update_full_objects-update-many",
    "TestOrganizationCreateUpdateDelete.test_raises_toomanyvaluesexception_create-create-multiple",
    "TestOrganizationCreateUpdateDelete.test_pagination",
    "TestTicketsPagination.test_pagination",
    "TestUsersPagination.test_pagination",
    "TestGroupCreateUpdateDelete.test_values",
    "TestUserMe.test_users_me",
    "TicketsIncrementalTest.test_pagination",
    "TicketsIncrementalTest.test_get_values",
    "UsersIncrementalTest.test_get_values",
    "TestTicketCreateUpdateDelete.test_single_object_deletion-delete-single",
    "TestTicketCreateUpdateDelete.test_single_delete_raises_recordnotfoundexception-recordnotfound-delete",
    "TestUserCreateUpdateDelete.test_single_object_deletion-delete-single",
    "TestUserCreateUpdateDelete.test_single_delete_raises_recordnotfoundexception-recordnotfound-delete",
    "TestOrganizationCreateUpdateDelete.test_single_object_deletion-delete-single",
    "TestOrganizationCreateUpdateDelete.test_single_delete_raises_recordnotfoundexception-recordnotfound-delete",
    "TestDeletedTickets.test_pagination",
)

# Keys the emulator leaves out on purpose (path suffix -> reason).
DELIBERATE_OMISSIONS = {
    "user.authenticity_token": "a CSRF token for Zendesk's web UI, meaningless to API clients",
}
# Maps whose keys are account data, not schema: compare only that both are objects.
FREE_FORM = ("user_fields", "organization_fields", "source.from", "source.to", "metadata.custom")
# Keys whose differing values are learnt as oracle -> emulator substitutions.
LEARNT = ("id", "after_cursor", "before_cursor")
# Query parameters whose values are ids or cursors.
SUBSTITUTED = ("ids", "external_ids", "cursor", "page[after]", "page[before]")
_SUPPORTED = [(m, re.compile(pattern(p) + r"\Z")) for m, p, _name, _h in ROUTES]


def body_of(recorded: dict[str, Any] | None) -> Any:
    if not recorded:
        return None
    if "base64_string" in recorded:
        raw = base64.b64decode(recorded["base64_string"])
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    else:
        text = recorded.get("string") or ""
    return json.loads(text) if text.strip() else None


def shape_diff(oracle: Any, actual: Any, path: str = "") -> list[str]:
    """Differences in key sets and value types between two JSON documents."""
    if oracle is None or actual is None:
        return []
    if isinstance(oracle, dict) and isinstance(actual, dict):
        if path.endswith(FREE_FORM):
            return []
        diffs = []
        for key in sorted(set(oracle) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual:
                if not where.endswith(tuple(DELIBERATE_OMISSIONS)):
                    diffs.append(f"{where}: missing")
            elif key not in oracle:
                diffs.append(f"{where}: not in the recording")
            else:
                diffs += shape_diff(oracle[key], actual[key], where)
        return diffs
    if isinstance(oracle, list) and isinstance(actual, list):
        return shape_diff(oracle[0], actual[0], f"{path}[]") if oracle and actual else []
    if _kind(oracle) != _kind(actual):
        return [f"{path}: {_kind(oracle)} recorded, {_kind(actual)} emulated"]
    return []


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


class Replay:
    """Sends a cassette's supported requests to the emulator, learning id substitutions."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.known: dict[str, Any] = {}

    def learn(self, oracle: Any, actual: Any) -> None:
        if isinstance(oracle, dict) and isinstance(actual, dict):
            for key in set(oracle) & set(actual):
                o, a = oracle[key], actual[key]
                scalar = isinstance(o, int | str) and isinstance(a, int | str)
                if key in LEARNT and scalar and str(o) not in self.known:
                    self.known[str(o)] = a
                else:
                    self.learn(o, a)
        elif isinstance(oracle, list) and isinstance(actual, list):
            for o, a in zip(oracle, actual, strict=False):
                self.learn(o, a)

    def substitute(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._swap(v) if k == "id" else self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(item) for item in value]
        return value

    def _swap(self, value: Any) -> Any:
        return self.known.get(str(value), value)

    def refers_to_unknown_record(self, recorded: str) -> bool:
        """True when the path names a record of the recording account the replay never saw."""
        stems = (segment.partition(".")[0] for segment in urlsplit(recorded).path.split("/"))
        return any(stem.isdigit() and stem not in self.known for stem in stems)

    def url(self, recorded: str) -> tuple[str, str]:
        parts = urlsplit(recorded)
        segments = []
        for segment in parts.path.split("/"):
            stem, dot, suffix = segment.partition(".")
            segments.append(f"{self._swap(stem)}{dot}{suffix}")
        path = "/".join(segments)
        query = [
            (k, ",".join(str(self._swap(p)) for p in v.split(",")) if k in SUBSTITUTED else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        return path, f"{PUBLIC}{path}" + (f"?{urlencode(query)}" if query else "")


def replay(cassette: Path, session: requests.Session, compared: list[str]) -> Iterator[str]:
    """Every mismatch between the recording and the emulator, as readable lines.

    Appends each replayed interaction to ``compared``.
    """
    run = Replay(session)
    interactions = json.loads(cassette.read_text(encoding="utf-8"))["http_interactions"]
    for number, interaction in enumerate(interactions):
        request, response = interaction["request"], interaction["response"]
        path, url = run.url(request["uri"])
        method = request["method"]
        if not any(m == method and p.match(path) for m, p in _SUPPORTED):
            continue
        if response["status"]["code"] < 400 and run.refers_to_unknown_record(request["uri"]):
            continue  # pre-existing data of the recording account (its admin, its organization)
        payload = body_of(request.get("body"))
        answer = session.request(method, url, json=run.substitute(payload) if payload else None)
        recorded, status = body_of(response.get("body")), response["status"]["code"]
        where = f"{cassette.stem} #{number} {method} {urlsplit(request['uri']).path}"
        compared.append(where)
        if answer.status_code != status:
            yield f"{where}: status {answer.status_code}, recorded {status}: {answer.text[:200]}"
            continue
        actual = answer.json() if answer.content else None
        if status >= 400 and actual != recorded:
            yield f"{where}: error body {actual}, recorded {recorded}"
        yield from (f"{where}: {diff}" for diff in shape_diff(recorded, actual))
        run.learn(recorded, actual)


class InProcessAdapter(HTTPAdapter):
    """Hands requests straight to ``app.dispatch``: the replay checks answers, not sockets,
    and several hundred requests should take well under a second."""

    def __init__(self, app: ZendeskEmulator) -> None:
        super().__init__()
        self.app = app

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers.update({"host": parts.netloc, "x-forwarded-proto": parts.scheme})
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        answer = self.app.dispatch(
            Request(
                method=request.method or "GET",
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers=headers,
                body=body,
            )
        )
        response = requests.Response()
        response.status_code = answer.status
        response.headers.update(answer.headers)
        response._content = answer.body
        response.url = request.url or ""
        response.request = request
        return response


@pytest.fixture(scope="module")
def emulator() -> ZendeskEmulator:
    require(ORACLES, "NO ZENDESK ORACLES: recorded Zendesk traffic (fidelity replays need it)")
    # The replay polls a job exactly as often as the recording did, so a job here must be done
    # by the first poll that was recorded as completed (the 1-3 polls real jobs take are checked
    # in test_zd_tickets).
    return ZendeskEmulator(
        rate_limit_per_minute=100_000,
        incremental_rate_limit_per_minute=10_000,
        job_polls_to_complete=1,
    )


@pytest.fixture
def session(emulator: ZendeskEmulator) -> requests.Session:
    emulator.reset()
    emulator.load_seed(generate_seed(7))
    session = requests.Session()
    session.mount(f"{PUBLIC}/", InProcessAdapter(emulator))
    session.auth = (f"{DEFAULT_AGENT_EMAIL}/token", DEFAULT_TOKEN)
    return session


@pytest.mark.parametrize("name", CASSETTES)
def test_emulator_answers_like_the_recorded_zendesk(
    emulator: ZendeskEmulator, session: requests.Session, name: str
) -> None:
    cassette = require(ORACLES / f"{name}.json", f"cassette {name}")

    compared: list[str] = []
    mismatches = list(replay(cassette, session, compared))

    assert mismatches == []
    assert compared, "nothing in this cassette was replayed"
    assert emulator.total_calls() == len(compared)


def test_custom_field_definitions_have_the_recorded_shape(session: requests.Session) -> None:
    """The recordings only create fields; compare those objects with what the emulator lists."""
    recordings = (
        ("ticket_field", "TestTicketFieldCreateUpdateDelete"),
        ("user_field", "UserFieldsCreateUpdateDelete"),
        ("organization_field", "TestOrganizationFieldsCreateUpdateDelete"),
    )
    for kind, test_class in recordings:
        name = f"{test_class}.test_single_object_creation-create-single"
        cassette = json.loads((ORACLES / f"{name}.json").read_text(encoding="utf-8"))
        recorded = body_of(cassette["http_interactions"][0]["response"]["body"])[kind]
        listed = session.get(f"{PUBLIC}/api/v2/{kind}s.json").json()[f"{kind}s"]
        plain = next(f for f in listed if "custom_field_options" not in f)

        assert shape_diff(recorded, plain, kind) == []
