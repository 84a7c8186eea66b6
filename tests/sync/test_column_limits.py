"""Every text column of the state store holds the longest value that can reach it.

A value longer than its column is refused by PostgreSQL (SQLite stores it anyway), and a refused
insert stops every later pass, so the limits where values enter (the survey field parsers, the
config and rules models, the engine's own formats) must fit the columns. Each bounded text column
is listed here with the limit it must hold and where that limit is enforced; a new column without
an entry fails the test, and so does a limit raised past its column.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from connectors.models import MAX_EMAIL_CHARS, MAX_RESPONSE_ID_CHARS, MAX_SOURCE_NAME_CHARS
from connectors.surveys import fields as survey_fields
from connectors.surveys.fields import FieldError, build_response
from connectors.surveys.files import default_name
from rules import SKIP_CODES
from sync.core.config.checks import MAX_FIELD_NAME_CHARS
from sync.loop.follow import TASK_STATUS_CHARS
from sync.loop.states import OUTCOMES
from sync.state import StateStore
from sync.state import schema as t

SHA256_HEX = 64
SALESFORCE_ID = 18
STATES = 20  # the longest status, kind and tier name the engine writes is well under this
RULE_NAME = 64  # rules.scalars.NAME_PATTERN
WORKER_ID = 64 + 1 + 7 + 1 + 20  # host (cut to 64) : pid : thread id
OUTCOME = max(map(len, OUTCOMES))  # sync.loop.states.outcome_code keeps only these
REASON = max(len("closed_without_contact"), OUTCOME)

#: (table, column) -> the longest value the code can write there (see the module docstring).
LIMITS: dict[tuple[str, str], int] = {
    ("nps_cursors", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_cursors", "value"): len("sha256:") + SHA256_HEX + len(":lines:") + 20,
    ("nps_responses", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_responses", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_responses", "version"): SHA256_HEX,  # cut to 64 by the inbox
    ("nps_responses", "email"): MAX_EMAIL_CHARS,
    ("nps_responses", "status"): STATES,
    ("nps_responses", "routed_version"): SHA256_HEX,
    ("nps_responses", "match_status"): STATES,
    ("nps_responses", "contact_id"): SALESFORCE_ID,
    ("nps_responses", "account_id"): SALESFORCE_ID,
    ("nps_response_versions", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_response_versions", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_response_versions", "version"): SHA256_HEX,
    ("nps_actions", "key"): SHA256_HEX,
    ("nps_actions", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_actions", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_actions", "rule"): RULE_NAME,
    ("nps_actions", "action"): RULE_NAME,
    ("nps_actions", "kind"): len("salesforce_task"),
    ("nps_actions", "ruleset_hash"): SHA256_HEX,
    ("nps_actions", "status"): STATES,
    ("nps_actions", "lease_owner"): WORKER_ID,
    ("nps_actions", "external_id"): 20,  # a Salesforce id or a Zendesk ticket number
    ("nps_actions", "job_id"): len("V3-") + 32,  # a Zendesk job id
    ("nps_written_values", "system"): STATES,
    ("nps_written_values", "object"): len("organization"),
    ("nps_written_values", "record_id"): 20,
    ("nps_written_values", "field"): MAX_FIELD_NAME_CHARS,
    ("nps_runs", "status"): STATES,
    ("nps_runs", "kind"): STATES,
    ("nps_runs", "owner"): WORKER_ID,
    ("nps_write_back_queue", "kind"): STATES,
    ("nps_write_back_queue", "record_id"): 20,
    ("nps_problems", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_problems", "location"): 500,  # cut to 500 by the inbox
    ("nps_cooldowns", "rule"): RULE_NAME,
    ("nps_cooldowns", "key_value"): 300,  # cut to 300 by sync.loop.throttle.cooldown_value
    ("nps_cooldowns", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_cooldowns", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_escalations", "action_key"): SHA256_HEX,
    ("nps_escalations", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_escalations", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_escalations", "rule"): RULE_NAME,
    ("nps_escalations", "action"): RULE_NAME,
    ("nps_escalations", "status"): STATES,
    ("nps_escalations", "fired_key"): SHA256_HEX,
    ("nps_ticket_status", "action_key"): SHA256_HEX,
    ("nps_ticket_status", "status"): STATES,
    ("nps_ticket_status", "outcome"): OUTCOME,
    ("nps_task_status", "action_key"): SHA256_HEX,
    ("nps_task_status", "task_id"): SALESFORCE_ID,
    ("nps_task_status", "status"): TASK_STATUS_CHARS,  # cut by sync.loop.follow
    ("nps_task_status", "owner_id"): SALESFORCE_ID,
    ("nps_task_status", "outcome"): OUTCOME,
    ("nps_loops", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_loops", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_loops", "state"): STATES,
    ("nps_loops", "reason"): REASON,
    ("nps_loops", "outcome"): OUTCOME,
    ("nps_loops", "owner_id"): SALESFORCE_ID,
    ("nps_loop_events", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_loop_events", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_loop_events", "state"): STATES,
    ("nps_loop_events", "origin"): len("salesforce_task"),
    ("nps_loop_events", "reason"): REASON,
    ("nps_skipped_actions", "key"): SHA256_HEX,
    ("nps_skipped_actions", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_skipped_actions", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_skipped_actions", "rule"): RULE_NAME,
    ("nps_skipped_actions", "action"): RULE_NAME,
    ("nps_skipped_actions", "kind"): len("salesforce_task"),
    ("nps_skipped_actions", "reason"): max(map(len, SKIP_CODES)),
    ("nps_skipped_actions", "ruleset_hash"): SHA256_HEX,
    ("nps_zendesk_user_misses", "email"): MAX_EMAIL_CHARS,  # connectors.addresses
    # longer emails and external ids are left out of the mirror, names cut, by save_page
    ("nps_zendesk_users", "email"): MAX_EMAIL_CHARS,
    ("nps_zendesk_users", "external_id"): 255,
    ("nps_zendesk_users", "name"): 255,
    ("nps_zendesk_open_tickets", "subject"): 255,  # cut by OpenTicketMirror.save_page
    ("nps_forgotten", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_forgotten", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_comment_text", "source"): MAX_SOURCE_NAME_CHARS,
    ("nps_comment_text", "response_id"): MAX_RESPONSE_ID_CHARS,
    ("nps_comment_text", "version"): SHA256_HEX,
    ("nps_comment_text", "analysis"): 16,  # sync.stages.comment_text: a cut sha256
    ("nps_hub_correction", "analysis"): 16,  # the same fingerprint
    ("nps_zendesk_names", "wanted"): SHA256_HEX,  # sync.stages.match_zendesk.names_wanted
}


def bounded_columns(columns: dict[tuple[str, str], int | None]) -> dict[tuple[str, str], int]:
    return {key: length for key, length in columns.items() if length is not None}


def declared_columns() -> dict[tuple[str, str], int | None]:
    return {
        (table.name, column.name): getattr(column.type, "length", None)
        for table in t.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, sa.String)
    }


def test_every_bounded_column_is_listed_and_holds_its_limit() -> None:
    columns = bounded_columns(declared_columns())
    assert set(columns) == set(LIMITS), "list each new text column in LIMITS"
    too_short = {key: (columns[key], need) for key, need in LIMITS.items() if columns[key] < need}
    assert too_short == {}


def test_the_response_id_limit_is_the_column() -> None:
    assert survey_fields.MAX_ID_CHARS == MAX_RESPONSE_ID_CHARS == 200


def test_the_database_has_the_declared_widths(store_url: str) -> None:
    """On both backends, after creation, each column is as wide as the schema says."""
    store = StateStore(store_url)
    store.migrate()
    try:
        inspector = sa.inspect(store.engine)
        actual = {
            (table, column["name"]): getattr(column["type"], "length", None)
            for table in inspector.get_table_names()
            for column in inspector.get_columns(table)
            if isinstance(column["type"], sa.String)
        }
    finally:
        store.close()
    assert bounded_columns(actual) == bounded_columns(declared_columns())


NOW = datetime(2026, 12, 1, tzinfo=UTC)


def raw(response_id: str) -> dict[str, object]:
    return {
        "source": "s",
        "response_id": response_id,
        "email": "ann@example.com",
        "score": 3,
        "comment": "",
        "created_at": NOW.isoformat(),
        "updated_at": None,
        "until": NOW,
    }


@pytest.mark.parametrize("length", [1, 199, 200])
def test_ids_that_fit_are_kept(length: int) -> None:
    assert build_response(**raw("i" * length)).response_id == "i" * length  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [201, 255, 256, 10_000])
def test_ids_longer_than_the_column_are_refused_with_the_reason(length: int) -> None:
    with pytest.raises(FieldError, match="response id longer than 200 characters"):
        build_response(**raw("i" * length))  # type: ignore[arg-type]


def test_the_longest_id_and_address_are_stored_on_both_backends(store_url: str) -> None:
    local = "a" * 64
    email = f"{local}@{'d' * 60}.{'e' * 60}.{'f' * 60}.com"[:MAX_EMAIL_CHARS]
    response = build_response(
        **{**raw("i" * MAX_RESPONSE_ID_CHARS), "email": email, "source": "s" * 100}  # type: ignore[arg-type]
    )
    store = StateStore(store_url)
    store.migrate()
    try:
        store.inbox.ingest_page("s" * 100, [response], "c" * 200, NOW)
        found = store.inbox.get("s" * 100, "i" * MAX_RESPONSE_ID_CHARS)
    finally:
        store.close()
    assert found is not None
    assert found.response.email == email


def test_a_file_source_name_too_long_to_store_is_shortened_by_a_hash(tmp_path: object) -> None:
    from pathlib import Path

    long = Path("/data") / ("export-" + "x" * 250 + ".csv")
    other = Path("/data") / ("export-" + "x" * 249 + "y.csv")
    assert len(default_name(long)) == MAX_SOURCE_NAME_CHARS
    assert default_name(long) != default_name(other)
    assert default_name(Path("/data/export.csv")) == "file:export.csv"
