"""Replays recorded real Salesforce traffic against the emulator and compares the answers.

The recordings live outside the project (``../shared/oracles/salesforce`` from the project root,
or ``$NPS_SYNC_ORACLES/salesforce``); without them these tests skip, and fail under CI. Each
replay starts from a fresh emulator holding just the records the recorded answer implies, sends
the recorded request through simple-salesforce's transport, and compares status codes, JSON key
sets and value types
(and values where the emulator's data is the recording's, but never ids, hosts or timestamps).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from ruamel.yaml import YAML

from emulators.salesforce import SalesforceEmulator
from emulators.salesforce.ids import is_valid_id
from tests.support import require

_PROJECT_ROOT = Path(__file__).resolve().parents[3]
ORACLES = (
    Path(os.environ.get("NPS_SYNC_ORACLES") or _PROJECT_ROOT.parent / "shared" / "oracles")
    / "salesforce"
)


@pytest.fixture(autouse=True)
def _recordings() -> None:
    """Skip without the recordings on a developer's machine; fail under CI."""
    require(ORACLES, "recorded Salesforce traffic (fidelity replays need it)")


VERSION = "59.0"
EMULATED = {"Account", "Contact", "Lead", "Task", "User"}


@dataclass(frozen=True)
class Interaction:
    """One recorded request and answer, with the API version normalised to ours."""

    source: str
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    answer: Any

    @property
    def label(self) -> str:
        return f"{self.source}:{self.method} {self.path} {self.query.get('q', '')}"[:140]


def _normalise(text: str) -> str:
    return re.sub(r"/v(?:xx|\d+)\.0/", f"/v{VERSION}/", text)


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return json.loads(_normalise(text))
    except json.JSONDecodeError:
        return None


def _interaction(
    source: str, method: str, url: str, body: Any, status: int, answer: Any
) -> Interaction:
    parts = urlsplit(_normalise(url))
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return Interaction(source, method, parts.path, query, _json(body), status, answer)


@cache
def _load(name: str) -> Any:
    return YAML(typ="safe", pure=True).load((ORACLES / name).read_text(encoding="utf-8"))


@cache
def recorded() -> list[Interaction]:
    """Every REST interaction in the cassettes, composite sub-requests unpacked."""
    found: list[Interaction] = []
    if not ORACLES.is_dir():
        return found
    for path in sorted(ORACLES.glob("Test*.yaml")):
        for entry in _load(path.name).get("interactions", []):
            if "request" not in entry or not isinstance(entry["response"].get("body"), dict):
                continue
            request, response = entry["request"], entry["response"]
            answer_text = response["body"].get("string")
            status = int(response["status"]["code"])
            found.append(
                _interaction(
                    path.name,
                    request["method"],
                    request["uri"],
                    request.get("body"),
                    status,
                    _json(answer_text),
                )
            )
            found.extend(_subrequests(path.name, found[-1]))
    return found


def _subrequests(source: str, composite: Interaction) -> list[Interaction]:
    if not composite.path.endswith("/composite") or not isinstance(composite.answer, dict):
        return []
    requests_by_ref = {r["referenceId"]: r for r in composite.body["compositeRequest"]}
    unpacked = []
    for answer in composite.answer.get("compositeResponse", []):
        request = requests_by_ref[answer["referenceId"]]
        if answer["httpStatusCode"] == 304:
            continue
        unpacked.append(
            _interaction(
                source,
                request["method"],
                request["url"],
                request.get("body"),
                answer["httpStatusCode"],
                answer["body"],
            )
        )
    return unpacked


def describe_answer(sobject: str) -> dict[str, Any]:
    entry = _load(f"GET_sobjects_{sobject}_describe.yaml")
    return json.loads(_normalise(entry["response"]["body"]["string"]))  # type: ignore[no-any-return]


# -- comparison ----------------------------------------------------------------------------------
def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(mine: Any, theirs: Any, where: str = "$") -> None:
    """Same keys and value types all the way down (a null on either side matches anything)."""
    if mine is None or theirs is None:
        return
    assert kind(mine) == kind(theirs), f"{where}: {kind(mine)} vs recorded {kind(theirs)}"
    if isinstance(theirs, dict):
        assert set(mine) == set(theirs), (
            f"{where}: only in emulator {sorted(set(mine) - set(theirs))}, "
            f"only recorded {sorted(set(theirs) - set(mine))}"
        )
        for key in theirs:
            assert_same_shape(mine[key], theirs[key], f"{where}.{key}")
    if isinstance(theirs, list):
        assert len(mine) == len(theirs), f"{where}: {len(mine)} items vs recorded {len(theirs)}"
        for index, (left, right) in enumerate(zip(mine, theirs, strict=True)):
            assert_same_shape(left, right, f"{where}[{index}]")


def without_ids(value: Any) -> Any:
    """The answer with record ids and record URLs blanked (they differ by org)."""
    if isinstance(value, dict):
        return {
            k: ("<id>" if k in ("id", "Id", "url") else without_ids(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


def send(
    http: requests.Session, emulator: SalesforceEmulator, interaction: Interaction
) -> requests.Response:
    return http.request(
        interaction.method,
        f"{emulator.instance_url}{interaction.path}",
        params=interaction.query or None,
        json=interaction.body,
        headers={"Authorization": f"Bearer {emulator.issue_session()}"},
    )


# -- describe ------------------------------------------------------------------------------------
DESCRIBED = ("Account", "Contact", "Lead", "Opportunity")


@pytest.mark.parametrize("sobject", DESCRIBED)
def test_describe_has_the_recorded_keys_and_field_shapes(
    http: requests.Session, emulator: SalesforceEmulator, sobject: str
) -> None:
    recorded_answer = describe_answer(sobject)
    every_recorded_key = set().union(*(describe_answer(name) for name in DESCRIBED))
    answer = send(
        http,
        emulator,
        _interaction(
            "describe",
            "GET",
            f"/services/data/v{VERSION}/sobjects/{sobject}/describe",
            None,
            200,
            None,
        ),
    )
    assert answer.status_code == 200
    mine = answer.json()
    assert set(recorded_answer) <= set(mine) <= every_recorded_key
    recorded_fields = {f["name"]: f for f in recorded_answer["fields"]}
    shared = [f for f in mine["fields"] if f["name"] in recorded_fields]
    assert len(shared) >= 8
    for field in shared:
        real = recorded_fields[field["name"]]
        assert set(field) == set(real), field["name"]
        for key in ("type", "soapType", "relationshipName", "idLookup", "createable", "nillable"):
            assert field[key] == real[key], f"{sobject}.{field['name']}.{key}"
        assert set(field["referenceTo"]) <= set(real["referenceTo"]), field["name"]
        for key, value in real.items():
            if key != "picklistValues":
                assert_same_shape(field[key], value, f"{sobject}.{field['name']}.{key}")
        for mine_value, real_value in zip(
            field["picklistValues"], real["picklistValues"], strict=False
        ):
            assert set(mine_value) == set(real_value)


def test_global_describe_has_the_recorded_shape(
    http: requests.Session, emulator: SalesforceEmulator
) -> None:
    entry = _load("GET_sobjects_Global_describe.yaml")
    real = json.loads(entry["response"]["body"]["string"])
    answer = send(
        http,
        emulator,
        _interaction("global", "GET", f"/services/data/v{VERSION}/sobjects", None, 200, None),
    ).json()
    assert set(answer) == set(real)
    real_entries = {o["name"]: o for o in real["sobjects"]}
    for mine in answer["sobjects"]:
        if mine["name"] in real_entries:
            assert_same_shape(mine, real_entries[mine["name"]], mine["name"])
            assert mine["keyPrefix"] == (
                real_entries[mine["name"]]["keyPrefix"] or mine["keyPrefix"]
            )


# -- queries -------------------------------------------------------------------------------------
def _query_replays() -> list[Interaction]:
    chosen: dict[str, Interaction] = {}
    for interaction in recorded():
        soql = interaction.query.get("q", "")
        if interaction.method != "GET" or not interaction.path.endswith(("/query", "/query/")):
            continue
        match = re.search(r"\bfrom\s+(\w+)", soql, re.IGNORECASE)
        emulated = match is not None and match.group(1) in EMULATED
        if interaction.status == 200 and (
            not emulated or "(" in soql.replace("count()", "") or " where " in soql.lower()
        ):
            continue
        chosen.setdefault(f"{soql}|{interaction.status}", interaction)
    return list(chosen.values())


@pytest.mark.parametrize("interaction", _query_replays(), ids=lambda i: i.label)
def test_query_answers_match_the_recording(
    http: requests.Session, emulator: SalesforceEmulator, interaction: Interaction
) -> None:
    recorded_answer = interaction.answer
    if interaction.status == 200:
        _seed_query_records(emulator, interaction.query["q"], recorded_answer)
    answer = send(http, emulator, interaction)
    assert answer.status_code == interaction.status
    assert answer.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert_same_shape(answer.json(), recorded_answer)
    if interaction.status == 200:
        assert without_ids(answer.json()) == without_ids(recorded_answer)
    else:
        assert answer.json() == recorded_answer


def _seed_query_records(emulator: SalesforceEmulator, soql: str, answer: dict[str, Any]) -> None:
    sobject = re.search(r"\bfrom\s+(\w+)", soql, re.IGNORECASE).group(1)  # type: ignore[union-attr]
    records = answer["records"] or [{} for _ in range(answer["totalSize"])]
    for record in records:
        fields = {k: v for k, v in record.items() if k not in ("attributes", "Id")}
        fields.setdefault("Name" if sobject == "Account" else "LastName", "Seeded")
        emulator.insert_record(sobject, fields)


# -- sObject Collections and single creates ------------------------------------------------------
def _write_replays() -> list[Interaction]:
    chosen = []
    for interaction in recorded():
        if interaction.method not in ("POST", "PATCH") or (
            "/composite/sobjects" not in interaction.path
            and not re.search(r"/sobjects/\w+/?$", interaction.path)
        ):
            continue
        records = (
            interaction.body.get("records", [interaction.body])
            if isinstance(interaction.body, dict)
            else []
        )
        types = {
            r.get("attributes", {}).get("type", interaction.path.rstrip("/").split("/")[-1])
            for r in records
        }
        raw_ids = [r.get("Id") for r in records if r.get("Id")]
        if types <= EMULATED and all(is_valid_id(i) for i in raw_ids):
            chosen.append(interaction)
    return chosen


@pytest.mark.parametrize("interaction", _write_replays(), ids=lambda i: i.label)
def test_write_answers_match_the_recording(
    http: requests.Session, emulator: SalesforceEmulator, interaction: Interaction
) -> None:
    preexisting = _seed_write_targets(emulator, interaction)
    answer = send(http, emulator, interaction)
    assert answer.status_code == interaction.status
    assert_same_shape(answer.json(), interaction.answer)
    if isinstance(interaction.answer, list):
        mine = answer.json()
        for index, (result, real) in enumerate(zip(mine, interaction.answer, strict=True)):
            assert result["success"] == real["success"], index
            assert result.get("created") == real.get("created"), index
            if real["id"] in preexisting:
                assert result["id"] == real["id"], index


def _seed_write_targets(emulator: SalesforceEmulator, interaction: Interaction) -> set[str]:
    """Records the recorded org already had: updated ids, and upsert keys it reported as found."""
    records = interaction.body.get("records", [])
    parts = interaction.path.rstrip("/").split("/")
    key_field = parts[-1] if len(parts) > 6 and parts[-3] == "sobjects" else None
    existing: set[str] = set()
    answers = interaction.answer if isinstance(interaction.answer, list) else []
    for record, real in zip(records, answers, strict=False):
        sobject = record["attributes"]["type"]
        fields = {k: v for k, v in record.items() if k not in ("attributes",) and v is not None}
        fields.setdefault("Name" if sobject == "Account" else "LastName", "Existing")
        if key_field not in (None, "Id") and real.get("created") is False:
            fields["Id"] = real["id"]
        if "Id" in fields or "id" in fields:
            existing.add(emulator.insert_record(sobject, fields))
    return existing


# -- other error bodies --------------------------------------------------------------------------
def _error_replays() -> list[Interaction]:
    return [
        i for i in recorded() if i.method == "GET" and i.status >= 400 and "/query" not in i.path
    ]


@pytest.mark.parametrize("interaction", _error_replays(), ids=lambda i: i.label)
def test_error_bodies_match_the_recording(
    http: requests.Session, emulator: SalesforceEmulator, interaction: Interaction
) -> None:
    answer = send(http, emulator, interaction)
    assert answer.status_code == interaction.status
    assert answer.json() == interaction.answer


def test_replays_found_the_recordings() -> None:
    """Guards against silently replaying nothing if the recordings' layout changes."""
    assert len(_query_replays()) >= 8
    assert len(_write_replays()) >= 6
    assert len(_error_replays()) >= 1
