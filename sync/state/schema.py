"""Tables of the state store and their migrations.

One SQLAlchemy Core ``MetaData`` describes the newest schema. A new database is created from it
and stamped with ``LATEST_VERSION``; an existing one is brought up to date by running the steps of
``MIGRATIONS`` after its recorded version, each in one transaction with its version bump, so an
upgrade is all-or-nothing and never loses state.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        """:meth:`process_bind_param` and the backend's formatting in one function, for the
        same reason as :meth:`result_processor`: batches bind these by the ten thousand. On
        SQLite the text is written directly, in the backend's own storage format
        (``2026-01-31 09:05:00.000000``), which ``isoformat`` produces without its per-field
        formatting."""
        if dialect.name == "sqlite":

            def to_text(value: Any) -> str | None:
                if value is not None and value.tzinfo is UTC:
                    # the common case, in one step: the same text without its "+00:00"
                    return cast(str, value.isoformat(" ", "microseconds")[:26])
                utc = self.process_bind_param(value, dialect)
                return None if utc is None else utc.isoformat(" ", "microseconds")

            return to_text
        format_ = self.impl_instance.bind_processor(dialect)

        def process(value: Any) -> Any:
            utc = self.process_bind_param(value, dialect)
            return format_(utc) if format_ is not None and utc is not None else utc

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], datetime | None]:
        """The backend's parsing and :meth:`process_result_value` in one function: stores load
        these columns by the hundred thousand, and the decorator's generic chain costs a call
        and a check more per value."""
        parse = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            parsed = cast(datetime, parse(value) if parse is not None else value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        if dialect.name != "sqlite":
            return process

        def from_text(value: Any) -> datetime | None:
            # SQLite holds naive UTC text (see :meth:`bind_processor`): read as UTC in one step,
            # about three times faster than parsing and then replacing the time zone. Text in
            # any other shape (an offset of its own, a date alone) takes the general way.
            if value is None:
                return None
            try:
                parsed = datetime.fromisoformat(f"{value}+00:00")
            except (TypeError, ValueError):
                return process(value)
            return parsed if parsed.tzinfo is not None else process(value)

        return from_text


metadata = sa.MetaData()

schema_version = sa.Table(
    "nps_schema_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

cursors = sa.Table(
    "nps_cursors",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(200)),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

responses = sa.Table(
    "nps_responses",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("response_id", sa.String(200), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    # Indexed with the time and score of each answer by ix_nps_responses_email_order (its own
    # index until v19).
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    # pending: latest version not yet routed; routed: decision taken for ``routed_version``.
    # Indexed by ix_nps_responses_pending_order, which leads with it (its own index until v17).
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("routed_version", sa.String(64)),
    sa.Column("not_before", UTCDateTime),
    sa.Column("match_status", sa.String(20)),
    sa.Column("contact_id", sa.String(18), index=True),
    sa.Column("account_id", sa.String(18), index=True),
    sa.Column("zendesk_user_id", sa.BigInteger),
    sa.Column("zendesk_org_id", sa.BigInteger),
    sa.Column("match", sa.JSON),
    sa.Column("decision", sa.JSON),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

response_versions = sa.Table(
    "nps_response_versions",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("response_id", sa.String(200), primary_key=True),
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
)

actions = sa.Table(
    "nps_actions",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("response_id", sa.String(200), nullable=False),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("ruleset_hash", sa.String(64), nullable=False),
    # pending -> claimed -> done | failed (will retry at next_attempt_at) | dead
    # Indexed by ix_nps_actions_claim_order, which leads with it (its own index until v17).
    sa.Column("status", sa.String(20), nullable=False),
    # attempts: times claimed (an attempt may have had an effect); failures: errors recorded.
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("external_id", sa.String(100)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Claimed lowest first: detractors' actions (0) go before the others (1) when the API
    # budget runs short. Added in v6.
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="1"),
    # The Zendesk bulk job that last carried this action, noted as Zendesk accepted it: until
    # that job has ended, what it creates may not exist yet. Added in v12.
    sa.Column("job_id", sa.String(100)),
    # When a create carrying this action was last sent without its outcome being known (set
    # before the request leaves, cleared once an answer says what happened): until Salesforce can
    # no longer be running that request, what it creates may appear later. Added in v14.
    sa.Column("in_doubt_since", UTCDateTime),
)

written_values = sa.Table(
    "nps_written_values",
    metadata,
    sa.Column("system", sa.String(20), primary_key=True),
    sa.Column("object", sa.String(80), primary_key=True),
    sa.Column("record_id", sa.String(40), primary_key=True),
    sa.Column("field", sa.String(120), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("written_at", UTCDateTime, nullable=False),
)

runs = sa.Table(
    "nps_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("stats", sa.JSON),
    # since v3: which job ran (pass | poll | drain | reconcile) and which worker ran it
    sa.Column("kind", sa.String(20)),
    sa.Column("owner", sa.String(100)),
)


#: Since v3. Contacts and accounts whose NPS fields need recomputing ("contact" | "account"),
#: queued in the routing transaction and cleared only by a write-back that saw the same
#: ``generation``, so neither a crash between routing and write-back nor a replica routing
#: during another's write-back loses a field update. ``attempts``: failed write-backs so far.
def _write_back_queue_v3(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        "nps_write_back_queue",
        meta,
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("record_id", sa.String(40), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("marked_at", UTCDateTime, nullable=False),
    )


write_back_queue = _write_back_queue_v3(metadata)

problems = sa.Table(
    "nps_problems",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("location", sa.String(500), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# -- routing throttles and escalations (schema v2; used by sync/loop/) --------------------------


def _cooldowns_v2(meta: sa.MetaData) -> sa.Table:
    """One row per response that acted under a rule's cooldown, for the key value it claimed."""
    return sa.Table(
        "nps_cooldowns",
        meta,
        sa.Column("rule", sa.String(200), primary_key=True),
        sa.Column("key_value", sa.String(300), primary_key=True),
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("response_id", sa.String(200), primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
    )


def _escalations_v2(meta: sa.MetaData) -> sa.Table:
    """One row per escalation step of an action: waiting (original not done) -> scheduled
    (``due_at`` set) -> fired | resolved | cancelled."""
    return sa.Table(
        "nps_escalations",
        meta,
        sa.Column("action_key", sa.String(64), primary_key=True),
        sa.Column("step", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("after_seconds", sa.Integer, nullable=False),
        sa.Column("business_hours", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("due_at", UTCDateTime),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("fired_key", sa.String(64)),
        sa.Column("note", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


cooldowns = _cooldowns_v2(metadata)
escalations = _escalations_v2(metadata)

# -- Zendesk ticket status tracking (schema v4; used by sync/loop/tracking.py) ------------------


def _ticket_status_v4(meta: sa.MetaData, *extra: sa.Column[Any]) -> sa.Table:
    """One row per ticket action: the status of its ticket as the incremental export last
    showed it. ``solved_at``: when it was first seen solved (cleared on reopening)."""
    return sa.Table(
        "nps_ticket_status",
        meta,
        sa.Column("action_key", sa.String(64), primary_key=True),
        sa.Column("ticket_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ticket_updated_at", UTCDateTime),
        sa.Column("solved_at", UTCDateTime),
        sa.Column("reopened", sa.Integer, nullable=False, default=0),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        *extra,
    )


#: Since v9: when an agent first replied in public (the ticket's metric set) and the ticket's
#: loop outcome field, for the loop state of its response.
ticket_status = _ticket_status_v4(
    metadata,
    sa.Column("first_reply_at", UTCDateTime),
    sa.Column("outcome", sa.String(40)),
)

# -- actions routing could not take (schema v5; used by sync/state/skips.py) ---------------------


def _skipped_actions_v5(meta: sa.MetaData) -> sa.Table:
    """One row per action a routing decision asked for and could not take, keyed like the
    outbox (``key``): why (``reason``, a stable code of :mod:`rules.skips`, and ``detail``),
    whether the rules expected it, and when it was first and last decided. Replaced with each new
    decision on the response, so a skip later resolved leaves no row behind."""
    return sa.Table(
        "nps_skipped_actions",
        meta,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=False, index=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False, index=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("expected", sa.Boolean, nullable=False),
        sa.Column("ruleset_hash", sa.String(64), nullable=False),
        sa.Column("first_skipped_at", UTCDateTime, nullable=False),
        sa.Column("skipped_at", UTCDateTime, nullable=False),
    )


skipped_actions = _skipped_actions_v5(metadata)

# -- Lookup indexes (schema v8) ---------------------------------------------------------------
#: The actions of given responses (outbox.Outbox.of_responses), without reading every action.
actions_response_id = sa.Index("ix_nps_actions_response_id", actions.c.response_id)

# -- Claim indexes (schema v16) -----------------------------------------------------------------
#: The responses waiting to be routed, oldest first (inbox.Inbox.pending): a routing window of
#: 10,000 read from it instead of sorting every pending response (100,000 pending: 0.36 s on
#: SQLite, 0.08 s with it).
responses_pending_order = sa.Index(
    "ix_nps_responses_pending_order",
    responses.c.status,
    responses.c.updated_at,
    responses.c.source,
    responses.c.response_id,
)
#: The due actions of one kind in claim order (outbox.Outbox.claim): a claim reads the first of
#: them instead of sorting every pending action (115 ms a claim of 200 at 75,000 pending).
actions_claim_order = sa.Index(
    "ix_nps_actions_claim_order",
    actions.c.status,
    actions.c.kind,
    actions.c.priority,
    actions.c.next_attempt_at,
    actions.c.key,
)


# -- History order indexes (schema v19) ----------------------------------------------------------
#: A person's latest answer before a given time (inbox.Inbox.previous_scores), read as the last
#: entry before it rather than by sorting every answer of the address.
responses_email_order = sa.Index(
    "ix_nps_responses_email_order",
    responses.c.email,
    responses.c.created_at,
    responses.c.score,
)
#: The claims of a cooldown key within a routing window (cooldowns.Cooldowns.claims), read as one
#: range of the index rather than every claim the key ever made.
cooldowns_key_order = sa.Index(
    "ix_nps_cooldowns_key_order",
    cooldowns.c.rule,
    cooldowns.c.key_value,
    cooldowns.c.at,
)


# -- Rejected records by place (schema v20) --------------------------------------------------------
#: A rejected record read again (a source re-reads a bad tail each pass) is found by its place
#: and kept as one row (inbox.Inbox's problems), not added again.
problems_location = sa.Index("ix_nps_problems_location", problems.c.source, problems.c.location)


# -- Zendesk users known not to exist (schema v7; used by sync/state/user_misses.py) -------------


def _zendesk_user_misses_v7(meta: sa.MetaData) -> sa.Table:
    """One row per (lower-case) email Zendesk had no user for when it was last searched, so a
    pass within ``zendesk.matching.remember_unknown_users_days`` does not search it again."""
    return sa.Table(
        "nps_zendesk_user_misses",
        meta,
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("checked_at", UTCDateTime, nullable=False),
    )


zendesk_user_misses = _zendesk_user_misses_v7(metadata)


# -- Closed-loop state of each response (schema v9; used by sync/loop/follow.py) -----------------


def _task_status_v9(meta: sa.MetaData) -> sa.Table:
    """One row per Task action: where its Task stood when it was last read from Salesforce
    (``completed_at``: ``CompletedDateTime``; ``outcome``: the loop outcome picklist)."""
    return sa.Table(
        "nps_task_status",
        meta,
        sa.Column("action_key", sa.String(64), primary_key=True),
        sa.Column("task_id", sa.String(18), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("closed", sa.Boolean, nullable=False),
        sa.Column("completed_at", UTCDateTime),
        sa.Column("owner_id", sa.String(18)),
        sa.Column("outcome", sa.String(40)),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
    )


def _loops_v9(meta: sa.MetaData) -> sa.Table:
    """One row per response with a Task or ticket: its loop's state now (open, contacted,
    resolved, closed) and when it opened, was first contacted and ended."""
    return sa.Table(
        "nps_loops",
        meta,
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("response_id", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("contacted_at", UTCDateTime),
        sa.Column("ended_at", UTCDateTime),
        sa.Column("reason", sa.String(40)),
        sa.Column("outcome", sa.String(40)),
        sa.Column("owner_id", sa.String(18)),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def _loop_events_v9(meta: sa.MetaData) -> sa.Table:
    """Every transition of a loop: the state reached, when it happened (``at``, from the Task
    or ticket), what told it (``origin``) and when nps-sync saw it (``recorded_at``)."""
    return sa.Table(
        "nps_loop_events",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("response_id", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("origin", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Index("ix_nps_loop_events_response", "source", "response_id"),
    )


task_status = _task_status_v9(metadata)
loops = _loops_v9(metadata)
loop_events = _loop_events_v9(metadata)


# -- A mirror of Zendesk's users (schema v10; used by sync/state/zendesk_users.py) ---------------


def _zendesk_users_v10(meta: sa.MetaData) -> sa.Table:
    """One row per active Zendesk user, as the incremental user export last listed it: what
    finding a respondent's user by email or by the contact id it mirrors needs, without a
    request per respondent."""
    return sa.Table(
        "nps_zendesk_users",
        meta,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("external_id", sa.String(255), nullable=False, index=True),
        sa.Column("organization_id", sa.BigInteger, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
    )


zendesk_users = _zendesk_users_v10(metadata)


def _zendesk_open_tickets_v10(meta: sa.MetaData, *extra: sa.Column[Any]) -> sa.Table:
    """One row per unsolved Zendesk ticket, as the incremental ticket export last listed it:
    the requesters' open tickets the customer context names, without a request per requester."""
    return sa.Table(
        "nps_zendesk_open_tickets",
        meta,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("requester_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("subject", sa.String(255), nullable=False),
        *extra,
    )


#: Since v13: when each ticket was created and solved; solved tickets stay (``solved_at`` set)
#: so a respondent's support history can be read as it stood when they answered.
zendesk_open_tickets = _zendesk_open_tickets_v10(
    metadata,
    sa.Column("created_at", UTCDateTime),
    sa.Column("solved_at", UTCDateTime, index=True),
)


# -- What each comment says (schema v11; used by sync/stages/comment_text.py) ---------------------


def _comment_text_v11(meta: sa.MetaData) -> sa.Table:
    """One row per response version whose comment was analysed: its sentiment and themes (most
    confident first), with the model and taxonomy that produced them, so each version is
    analysed once and a changed taxonomy or model is analysed again."""
    return sa.Table(
        "nps_comment_text",
        meta,
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("response_id", sa.String(200), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("analysis", sa.String(64), nullable=False),
        sa.Column("sentiment", sa.Float, nullable=False),
        sa.Column("themes", sa.JSON, nullable=False),
        sa.Column("submitted_at", UTCDateTime, nullable=False, index=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("analysed_at", UTCDateTime, nullable=False),
    )


comment_text = _comment_text_v11(metadata)


def _hub_correction_v15(meta: sa.MetaData) -> sa.Table:
    """One row per analysis (taxonomy and model): how far the daemon's measurement of the zero-shot
    themes' hub correction has got, so a restart carries on from it instead of starting over."""
    return sa.Table(
        "nps_hub_correction",
        meta,
        sa.Column("analysis", sa.String(64), primary_key=True),
        sa.Column("seen", sa.Integer, nullable=False),
        # each theme's highest cosines so far: a list of rows, one column per theme
        sa.Column("top", sa.JSON, nullable=False),
        sa.Column("measured_at", UTCDateTime, nullable=False),
    )


hub_correction = _hub_correction_v15(metadata)


Migration = Callable[[Connection], None]


def _add_routing_tables(conn: Connection) -> None:
    """v1 -> v2: cooldown claims and escalation deadlines (new tables, nothing rewritten).

    Built by the ``_v2`` builders, not from ``metadata``: later versions may change these tables,
    and this step must always produce the v2 shape.
    """
    v2 = sa.MetaData()
    _cooldowns_v2(v2)
    _escalations_v2(v2)
    v2.create_all(conn)


def _add_write_back_queue(conn: Connection) -> None:
    """v2 -> v3: the write-back queue; the job kind and the worker of each run."""
    v3 = sa.MetaData()
    _write_back_queue_v3(v3)
    v3.create_all(conn)
    conn.execute(sa.text("ALTER TABLE nps_runs ADD COLUMN kind VARCHAR(20)"))
    conn.execute(sa.text("ALTER TABLE nps_runs ADD COLUMN owner VARCHAR(100)"))


def _add_ticket_status(conn: Connection) -> None:
    """v3 -> v4: the Zendesk ticket status of each ticket action (a new table)."""
    v4 = sa.MetaData()
    _ticket_status_v4(v4)
    v4.create_all(conn)


def _add_skipped_actions(conn: Connection) -> None:
    """v4 -> v5: the actions routing could not take, with why (a new table)."""
    v5 = sa.MetaData()
    _skipped_actions_v5(v5)
    v5.create_all(conn)


def _add_action_priority(conn: Connection) -> None:
    """v5 -> v6: the claim priority of each action; those queued before keep the ordinary one."""
    if "priority" in {c["name"] for c in sa.inspect(conn).get_columns("nps_actions")}:
        return  # a database created by a later release and marked older (tests do that)
    conn.execute(sa.text("ALTER TABLE nps_actions ADD COLUMN priority SMALLINT NOT NULL DEFAULT 1"))


def _add_zendesk_user_misses(conn: Connection) -> None:
    """v6 -> v7: emails Zendesk had no user for, and when that was seen (a new table)."""
    v7 = sa.MetaData()
    _zendesk_user_misses_v7(v7)
    v7.create_all(conn)


def _add_lookup_indexes(conn: Connection) -> None:
    """v7 -> v8: indexes on a person's lower-case email (replaced in v18) and on the response
    of each action."""
    # IF NOT EXISTS rather than reflection: SQLite cannot reflect an expression index
    conn.execute(
        sa.text(
            "CREATE INDEX IF NOT EXISTS ix_nps_responses_email_lower "
            "ON nps_responses (lower(email))"
        )
    )
    conn.execute(sa.schema.CreateIndex(actions_response_id, if_not_exists=True))


def _add_loops(conn: Connection) -> None:
    """v8 -> v9: the loop state of responses, its transitions, the status of Task actions (new
    tables) and the first reply and outcome of tracked tickets (new columns)."""
    v9 = sa.MetaData()
    _task_status_v9(v9)
    _loops_v9(v9)
    _loop_events_v9(v9)
    v9.create_all(conn)
    present = {c["name"] for c in sa.inspect(conn).get_columns("nps_ticket_status")}
    timestamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for name, kind in (("first_reply_at", timestamp), ("outcome", "VARCHAR(40)")):
        if name not in present:
            conn.execute(sa.text(f"ALTER TABLE nps_ticket_status ADD COLUMN {name} {kind}"))


def _add_zendesk_mirrors(conn: Connection) -> None:
    """v9 -> v10: the mirrors of Zendesk's users and unsolved tickets (new tables)."""
    v10 = sa.MetaData()
    _zendesk_users_v10(v10)
    _zendesk_open_tickets_v10(v10)
    v10.create_all(conn)


def _add_comment_text(conn: Connection) -> None:
    """v10 -> v11: the sentiment and themes of each analysed response version (a new table)."""
    v11 = sa.MetaData()
    _comment_text_v11(v11)
    v11.create_all(conn)


def _add_action_job(conn: Connection) -> None:
    """v11 -> v12: the bulk job that last carried each action (a new nullable column)."""
    if "job_id" in {c["name"] for c in sa.inspect(conn).get_columns("nps_actions")}:
        return  # a database created by a later release and marked older (tests do that)
    conn.execute(sa.text("ALTER TABLE nps_actions ADD COLUMN job_id VARCHAR(100)"))


def _add_ticket_history(conn: Connection) -> None:
    """v12 -> v13: when each mirrored ticket was created and solved (new nullable columns).

    The mirror kept unsolved tickets only and no dates, so its export cursor and caught-up mark
    are dropped: the next passes read the export again from the start, and support history is
    used once that read reached the end."""
    present = {c["name"] for c in sa.inspect(conn).get_columns("nps_zendesk_open_tickets")}
    timestamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for name in ("created_at", "solved_at"):
        if name not in present:
            conn.execute(
                sa.text(f"ALTER TABLE nps_zendesk_open_tickets ADD COLUMN {name} {timestamp}")
            )
    conn.execute(
        sa.text(
            "CREATE INDEX IF NOT EXISTS ix_nps_zendesk_open_tickets_solved_at "
            "ON nps_zendesk_open_tickets (solved_at)"
        )
    )
    conn.execute(
        cursors.delete().where(
            cursors.c.source.in_(["zendesk:open-tickets", "zendesk:open-tickets:caught-up"])
        )
    )


def _add_action_doubt(conn: Connection) -> None:
    """v13 -> v14: when each action's last create was sent unanswered (a new nullable column)."""
    if "in_doubt_since" in {c["name"] for c in sa.inspect(conn).get_columns("nps_actions")}:
        return  # a database created by a later release and marked older (tests do that)
    timestamp = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    conn.execute(sa.text(f"ALTER TABLE nps_actions ADD COLUMN in_doubt_since {timestamp}"))


def _add_hub_correction(conn: Connection) -> None:
    """v14 -> v15: the daemon's hub correction measurement per analysis (a new table)."""
    v15 = sa.MetaData()
    _hub_correction_v15(v15)
    v15.create_all(conn)


def _add_claim_indexes(conn: Connection) -> None:
    """v15 -> v16: indexes of the actions in claim order, per status and kind, and of the
    responses in routing order, per status."""
    for index in (actions_claim_order, responses_pending_order):
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))


def _drop_status_indexes(conn: Connection) -> None:
    """v16 -> v17: the single-column status indexes of responses and actions, which the v16
    indexes lead with: every status change wrote each row's status into both."""
    for name in ("ix_nps_responses_status", "ix_nps_actions_status"):
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))


def _add_person_order(conn: Connection) -> None:
    """v17 -> v18: each person's answers in order, replacing the index of their lower-case
    email, which it leads with."""
    create_person_order(conn)
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_nps_responses_email_lower"))


def create_person_order(conn: Connection) -> None:
    """The index of each person's answers in the order their history is shown: lower-case
    email, time, then ids (byte order on PostgreSQL, as Python sorts them). A customer context
    reads a few answers around one from it however long the history (tickets.TicketLedger); it
    also serves every lookup by lower-case email. Made outside the table's metadata: its
    columns' collation is PostgreSQL's alone."""
    ids = (
        'source COLLATE "C", response_id COLLATE "C"'
        if conn.dialect.name == "postgresql"
        else "source, response_id"
    )
    conn.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {PERSON_ORDER} ON nps_responses "
            f"(lower(email), created_at, {ids})"
        )
    )


PERSON_ORDER = "ix_nps_responses_person_order"


def _add_history_order(conn: Connection) -> None:
    """v18 -> v19: a person's answers by address in time order (replacing the index of the
    address alone, which it leads with) and each cooldown key's claims in time order."""
    for index in (responses_email_order, cooldowns_key_order):
        conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    conn.execute(sa.text("DROP INDEX IF EXISTS ix_nps_responses_email"))


def _add_problem_places(conn: Connection) -> None:
    """v19 -> v20: rejected records by source and place; the copies earlier passes added of a
    record read again are folded into its latest row."""
    p = problems
    latest = (
        sa.select(sa.func.max(p.c.id))
        .group_by(p.c.source, p.c.location, p.c.reason)
        .scalar_subquery()
    )
    conn.execute(p.delete().where(p.c.id.not_in(latest)))
    conn.execute(sa.schema.CreateIndex(problems_location, if_not_exists=True))


def _forgotten_v21(meta: sa.MetaData) -> sa.Table:
    """One row per answer a respondent asked to be forgotten (:mod:`sync.state.forgotten`):
    the answer is gone, and a source that delivers it again stores nothing."""
    return sa.Table(
        "nps_forgotten",
        meta,
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("response_id", sa.String(200), primary_key=True),
        sa.Column("forgotten_at", UTCDateTime, nullable=False),
    )


forgotten = _forgotten_v21(metadata)


def _add_forgotten(conn: Connection) -> None:
    """v20 -> v21: the tombstones of forgotten answers (a new table)."""
    v21 = sa.MetaData()
    _forgotten_v21(v21)
    v21.create_all(conn)


def _zendesk_names_v22(meta: sa.MetaData) -> sa.Table:
    """The ids of the Zendesk names the config and rules use, as last resolved
    (:mod:`sync.state.zendesk_names`): what a pass starts from while Zendesk cannot be reached."""
    return sa.Table(
        "nps_zendesk_names",
        meta,
        # a fingerprint of the names asked for: other rules ask for other names
        sa.Column("wanted", sa.String(64), primary_key=True),
        sa.Column("names", sa.JSON, nullable=False),
        sa.Column("resolved_at", UTCDateTime, nullable=False),
    )


zendesk_names = _zendesk_names_v22(metadata)


def _add_zendesk_names(conn: Connection) -> None:
    """v21 -> v22: the last resolved Zendesk names (a new table)."""
    v22 = sa.MetaData()
    _zendesk_names_v22(v22)
    v22.create_all(conn)


#: Steps from version N to N+1, keyed by N. Version 1 is the first released schema.
MIGRATIONS: dict[int, Migration] = {
    1: _add_routing_tables,
    2: _add_write_back_queue,
    3: _add_ticket_status,
    4: _add_skipped_actions,
    5: _add_action_priority,
    6: _add_zendesk_user_misses,
    7: _add_lookup_indexes,
    8: _add_loops,
    9: _add_zendesk_mirrors,
    10: _add_comment_text,
    11: _add_action_job,
    12: _add_ticket_history,
    13: _add_action_doubt,
    14: _add_hub_correction,
    15: _add_claim_indexes,
    16: _drop_status_indexes,
    17: _add_person_order,
    18: _add_history_order,
    19: _add_problem_places,
    20: _add_forgotten,
    21: _add_zendesk_names,
}
LATEST_VERSION = 1 + len(MIGRATIONS)
