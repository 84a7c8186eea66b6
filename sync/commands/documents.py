"""The data behind each ``--json`` document: what the tables show, as plain mappings.

One function per command; :func:`sync.commands.output.emit` writes the result. Key names are
part of the command line's contract (listed in the README), so a new figure gets a new key and
an existing key keeps its meaning. Texts that may carry survey data or secrets (errors, skipped
records) are redacted as the tables redact them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sync.commands.output import iso
from sync.core.logs import redact

if TYPE_CHECKING:
    from rules import Decision, RuleTrace
    from sync.app.engine import RunReport
    from sync.checks import Finding
    from sync.fields.explain import AccountExplanation
    from sync.fields.metrics import SegmentScore
    from sync.ops.rematch import RematchResult
    from sync.ops.replay import ReplayResult
    from sync.ops.review import Review
    from sync.state import SkipRow, StateStore, StoredResponse
    from sync.state.outbox import ActionRow


# -- sync ----------------------------------------------------------------------------------------
def not_started_document(error: Exception) -> dict[str, Any]:
    """``sync --json`` when the pass could not start (a system refused the credentials or was
    unreachable at sign-in): still one document on stdout, saying why, with the exit code the
    command ends with."""
    from sync.core.errors import exit_code

    return {"started": False, "error": redact(str(error)), "exit_code": exit_code(error)}


def run_document(report: RunReport) -> dict[str, Any]:
    """One pass's figures (``nps-sync sync --json``): the report's counters by their own names."""
    data = report.to_json()
    data["problems"] = [redact(p) for p in data["problems"]]
    data["errors"] = [redact(e) for e in data["errors"]]
    data["refused"] = {system: redact(m) for system, m in report.refused.items()}
    usage = report.api_usage
    data["api_usage"] = {"used": usage[0], "limit": usage[1]} if usage else None
    data["idle"] = report.idle
    data["started"] = True
    return data


# -- status --------------------------------------------------------------------------------------
def status_document(store: StateStore, now: datetime, run_count: int = 10) -> dict[str, Any]:
    """``nps-sync status --json``: the same sections as the tables, newest run first."""
    runs = store.runs.last(run_count)
    inbox = store.inbox.counts()
    queued = store.write_backs.queued()
    return {
        "generated_at": iso(now),
        "state_file_warning": store.file_warning or None,
        "runs": [_run(run) for run in runs],
        "cursors": [
            {"source": source, "cursor": value, "updated_at": iso(updated)}
            for source, (value, updated) in sorted(store.cursors.all().items())
        ],
        "actions": [
            {
                "kind": kind,
                "due": c.due,
                "waiting": c.waiting,
                "next_attempt_at": iso(c.next_attempt_at),
                "in_flight": c.in_flight,
                "done": c.done,
                "failed": c.dead,
            }
            for kind, c in sorted(store.outbox.summary(now).items())
        ],
        "responses": {
            "pending": inbox.get("pending", 0),
            "importing": inbox.get("importing", 0),
            "matched": inbox.get("matched", 0),
            "unmatched": inbox.get("unmatched", 0) + inbox.get("ambiguous", 0),
            "too_old": store.inbox.too_old_count(),
            "malformed": store.inbox.problem_count(),
        },
        "write_backs_queued": {"contacts": len(queued.contacts), "accounts": len(queued.accounts)},
        "forgotten": store.forgotten.count(),
        "backfilling": _backfilling(store),
        "salesforce_api": _budget(runs),
        "rules": _rules(runs),
        "refused": _refusals(runs),
        "deferred": _deferred(runs),
        "skipped": _skipped(store.skips.counts()),
    }


def _backfilling(store: StateStore) -> dict[str, str | None] | None:
    """An unfinished backfill's range (answers in it are history until it finishes)."""
    backfilling = store.backfills.range()
    if backfilling is None:
        return None
    return {"since": iso(backfilling[0]), "until": iso(backfilling[1])}


def _deferred(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The newest working run's deferrals: system -> until when, and what waits for them."""
    from sync.app.jobs import WRITE_ONLY_JOBS

    for run in runs:
        stats = run.get("stats") or {}
        if run.get("kind") in WRITE_ONLY_JOBS or not stats:
            continue
        return {
            "run": run["id"],
            "until": stats.get("deferred_until") or {},
            "waiting": stats.get("waiting") or {},
        }
    return {"run": None, "until": {}, "waiting": {}}


def _skipped(counts: Mapping[tuple[str, bool], int]) -> dict[str, Any]:
    by_reason: Counter[str] = Counter()
    for (reason, _), count in counts.items():
        by_reason[reason] += count
    return {
        "total": sum(by_reason.values()),
        "unexpected": sum(count for (_, expected), count in counts.items() if not expected),
        "by_reason": dict(sorted(by_reason.items())),
    }


def _run(run: Mapping[str, Any]) -> dict[str, Any]:
    stats = run.get("stats") or {}
    return {
        "id": run["id"],
        "job": run.get("kind") or "pass",
        "started_at": iso(run["started_at"]),
        "finished_at": iso(run.get("finished_at")),
        "status": run["status"],
        "worker": run.get("owner"),
        "seconds": stats.get("seconds"),
        "pulled": stats.get("pulled"),
        "routed": stats.get("routed"),
        "tasks_created": stats.get("tasks_created"),
        "tickets_created": stats.get("tickets_created"),
        "records_updated": stats.get("records_updated"),
        "errors": stats.get("error_count", len(stats.get("errors", []))) if stats else None,
    }


def _budget(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    for run in runs:
        usage = (run.get("stats") or {}).get("api_usage")
        if usage:
            used, total = int(usage[0]), int(usage[1])
            return {
                "used": used,
                "limit": total,
                "left": total - used,
                "run_id": run["id"],
                "at": iso(run["started_at"]),
            }
    return None


def _rules(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    for run in runs:
        rules = (run.get("stats") or {}).get("rules")
        if rules:
            return {
                "file": rules.get("file"),
                "hash": rules.get("hash"),
                "rejected": rules.get("rejected"),
            }
    return None


def _refusals(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for run in runs:
        for system, message in ((run.get("stats") or {}).get("refused") or {}).items():
            seen.setdefault(
                system,
                {
                    "system": system,
                    "message": redact(str(message)),
                    "run_id": run["id"],
                    "at": iso(run["started_at"]),
                },
            )
    return list(seen.values())


# -- failed, unmatched ---------------------------------------------------------------------------
def skipped_document(rows: Sequence[SkipRow]) -> dict[str, Any]:
    """``nps-sync skipped --json``: every recorded skip, oldest decision first; ``id`` is the
    action's whole key."""
    return {
        "count": len(rows),
        "actions": [
            {
                "id": row.skip.key,
                "source": row.skip.source,
                "response_id": row.skip.response_id,
                "rule": row.skip.rule,
                "action": row.skip.action,
                "kind": row.skip.kind,
                "reason": row.skip.reason,
                "expected": row.skip.expected,
                "detail": row.skip.detail,
                "first_skipped_at": iso(row.first_skipped_at),
                "skipped_at": iso(row.skipped_at),
            }
            for row in rows
        ],
    }


def failed_document(rows: Sequence[ActionRow]) -> dict[str, Any]:
    """``nps-sync failed list --json``: every dead action; ``id`` is the full key."""
    return {
        "count": len(rows),
        "actions": [
            {
                "id": row.key,
                "kind": row.kind,
                "rule": row.rule,
                "action": row.action,
                "source": row.source,
                "response_id": row.response_id,
                "attempts": row.attempts,
                "last_error": redact(row.last_error or "") or None,
            }
            for row in rows
        ],
    }


def unmatched_reason(row: StoredResponse) -> str:
    """Why a response is on the review list, in the words the table uses."""
    match = row.match or {}
    return {
        "ambiguous": "ambiguous",
        "failed": str(match.get("detail") or "lookup failed"),
    }.get(str(match.get("status")), "no contact with this email")


def unmatched_document(
    rows: Sequence[StoredResponse], found: Review | None = None
) -> dict[str, Any]:
    """``nps-sync unmatched --json``: the review list (emails shown: the reviewer needs them)
    and the fixes; each response names its fix by index (``fix``, null: none)."""
    fixes = found.fixes if found is not None else []
    number = {key: n for n, fix in enumerate(fixes) for key in fix.responses}
    return {
        "count": len(rows),
        "responses": [
            {
                "source": row.response.source,
                "response_id": row.response.response_id,
                "email": row.response.email,
                "score": row.response.score,
                "submitted_at": iso(row.response.created_at),
                "status": str((row.match or {}).get("status") or "unmatched"),
                "why": unmatched_reason(row),
                "fix": number.get((row.response.source, row.response.response_id)),
            }
            for row in rows
        ],
        "fixes": [
            {
                "kind": fix.kind,
                "subject": fix.subject,
                "problem": fix.problem,
                "advice": fix.advice,
                "config_snippet": fix.snippet or None,
                "accounts": [
                    {"id": a.id, "name": a.name, "domain": a.domain or None} for a in fix.accounts
                ],
                "responses": [
                    {"source": source, "response_id": rid} for source, rid in fix.responses
                ],
            }
            for fix in fixes
        ],
        "note": (found.note or None) if found is not None else None,
    }


def rematch_document(result: RematchResult, report: RunReport) -> dict[str, Any]:
    """``nps-sync unmatched rematch --json``: what matching again found, and the run's figures."""
    return {
        "reviewed": result.reviewed,
        "now_matched": result.now_matched,
        "matched_by": dict(sorted(result.matched.items())),
        "still_unmatched": result.still_unmatched,
        "waiting": result.waiting,
        "busy": result.busy,
        "run": run_document(report),
    }


# -- check ---------------------------------------------------------------------------------------
def check_document(findings: Sequence[Finding]) -> dict[str, Any]:
    """``nps-sync check --json``: every finding; ``ok`` is false when one is an error."""
    return {
        "ok": not any(f.level == "error" for f in findings),
        "errors": sum(f.level == "error" for f in findings),
        "warnings": sum(f.level == "warning" for f in findings),
        "findings": [dataclasses.asdict(f) for f in findings],
    }


# -- rules replay, rules explain -----------------------------------------------------------------
def replay_document(
    *,
    since: datetime,
    in_force: str,
    current: ReplayResult,
    candidate: str | None = None,
    candidate_hash: str | None = None,
    proposed: ReplayResult | None = None,
    unrecorded: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``nps-sync rules replay --json``: counts for the rules in force and a candidate file;
    ``unrecorded``: fields the candidate reads that routing did not record, with how many
    responses lack them."""
    return {
        "since": iso(since),
        "responses": current.responses,
        "too_old": current.too_old,
        "in_force": {"hash": in_force, **_replayed(current)},
        "candidate": (
            None
            if proposed is None
            else {
                "file": candidate,
                "hash": candidate_hash,
                **_replayed(proposed),
                "unrecorded": dict(sorted((unrecorded or {}).items())),
            }
        ),
    }


def _replayed(result: ReplayResult) -> dict[str, Any]:
    def rows(counts: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
        return [
            {"rule": rule, "type": kind, "count": count}
            for (rule, kind), count in sorted(counts.items())
        ]

    return {
        "actions": rows(result.by_rule),
        "skipped_unmatched": [
            {"rule": rule, "type": kind, "reason": reason, "count": count}
            for (rule, kind, reason), count in sorted(result.skipped.items())
        ],
        "suppressed_by_cooldown": [
            {"rule": rule, "responses": count} for rule, count in sorted(result.suppressed.items())
        ],
        "tasks_by_owner": [
            {"owner": owner, "email": result.owner_emails.get(owner), "tasks": count}
            for owner, count in sorted(result.by_owner.items())
        ],
        "tickets_by_group": [
            {"group": group, "tickets": count} for group, count in sorted(result.by_group.items())
        ],
    }


def decision_document(decision: Decision) -> list[dict[str, Any]]:
    """The rules a decision matched, in order, with what each asks for."""
    return [
        {
            "rule": m.rule,
            "actions": list(m.actions),
            "continue": m.continues,
            "cooldown": (
                None
                if m.cooldown is None
                else {"key": m.cooldown.field, "period_seconds": m.cooldown.period.total_seconds()}
            ),
            "settle_seconds": m.settle.total_seconds() if m.settle else None,
            "escalations": [
                {
                    "action": step.action,
                    "after_seconds": step.after.total_seconds(),
                    "business_hours": step.business_hours,
                }
                for step in m.escalations
            ],
        }
        for m in decision.matches
    ]


def traces_document(traces: Sequence[RuleTrace]) -> list[dict[str, Any]]:
    """Every rule: reached, matched, fired, and each condition with the value seen."""
    return [
        {
            "rule": trace.rule,
            "reached": trace.reached,
            "matched": trace.matched,
            "fired": trace.fired,
            "conditions": [
                {
                    "depth": c.depth,
                    "label": c.label,
                    "matched": c.matched,
                    "field": c.field,
                    "value": c.value,
                }
                for c in trace.conditions
            ],
        }
        for trace in traces
    ]


def stored_decision_document(
    stored: StoredResponse,
    ruleset_hash: str,
    fields: Mapping[str, object],
    traces: Sequence[RuleTrace],
    decision: Decision,
    too_old: str | None = None,
) -> dict[str, Any]:
    """``nps-sync rules explain --json``: the stored decision, the fields and the trace now;
    ``too_old``: why no action is taken (a response too old to act on), else None."""
    r = stored.response
    match = stored.match or {}
    stored_decision = stored.decision or {}
    return {
        "response": {
            "source": r.source,
            "response_id": r.response_id,
            "score": r.score,
            "submitted_at": iso(r.created_at),
        },
        "match": {
            "status": match.get("status"),
            "contact": _record(match.get("contact")),
            "account": _record(match.get("account")),
        },
        "stored_decision": {
            "ruleset": stored_decision.get("ruleset"),
            "rules": list(stored_decision.get("rules") or []),
            "actions": list(stored_decision.get("actions") or []),
            "notes": list(stored_decision.get("notes") or []),
        },
        "rules_in_force": ruleset_hash,
        "fields": {name: value for name, value in sorted(fields.items()) if value is not None},
        "trace": traces_document(traces),
        "decision": decision_document(decision),
        "too_old": too_old,
    }


def _record(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, Mapping) or not data.get("id"):
        return None
    return {"id": data["id"], "name": data.get("name")}


# -- explain account, explain segments -----------------------------------------------------------
def account_document(e: AccountExplanation) -> dict[str, Any]:
    """``nps-sync explain account --json``: window, responses with their fate, each field."""
    cur = e.metrics.current
    assert cur is not None
    return {
        "account_id": e.account_id,
        "account_name": e.account_name or None,
        "at": iso(e.now),
        "window": {
            "start": iso(cur.start),
            "end": iso(cur.end),
            "days": e.settings.window.days,
            "half_life_days": e.settings.half_life.days if e.settings.half_life else None,
        },
        "arr": e.facts.arr,
        "responses": [
            {
                "contact_id": line.contact_id,
                "contact_name": line.contact_name or None,
                "response_id": line.response_id,
                "submitted_at": iso(line.submitted),
                "score": line.score,
                "category": line.category,
                "weight": line.weight,
                "status": line.status,
            }
            for line in e.responses
        ],
        "fields": [
            {
                "metric": f.metric,
                "label": f.label,
                "value": f.value,
                "how": f.formula,
                "written_to": list(f.written_to),
            }
            for f in e.fields
        ],
    }


def segments_document(by: str, segments: Sequence[SegmentScore]) -> dict[str, Any]:
    """``nps-sync explain segments --json``: revenue-weighted and plain NPS per segment."""
    return {
        "by": by,
        "segments": [
            {
                "segment": s.segment,
                "accounts": s.accounts,
                "arr": s.arr,
                "revenue_weighted_nps": s.revenue_weighted_nps,
                "average_nps": s.average_nps,
            }
            for s in segments
        ],
    }
