"""Skip records in the state store, on both backends: one per action a decision could not take,
replaced by the response's next decision, and never beside an action that is in the outbox."""

from __future__ import annotations

from rules import parse_rules
from sync.stages.match_record import Match
from sync.state import StateStore
from tests.routing.helpers import T0, account, days, ingest, matched, response, route_pending

RULES = parse_rules(
    """
version: 1
actions:
  flag:
    type: update_fields
    system: salesforce
    object: Account
    values: {Description: "NPS {{ response.score }}"}
  call:
    type: salesforce_task
    subject: Call
    due_in: 1d
rules:
  - name: detractors
    when: {category: detractor}
    actions: [flag, call]
""",
    "rules.yaml",
)
ACME = account(1)
UNMATCHED = Match("unmatched", "", None, None, None, 0)


def test_a_skip_is_recorded_once_and_goes_when_a_new_decision_resolves_it(
    store: StateStore,
) -> None:
    ingest(store, response("1", "ann@acme.test", 2, T0), now=T0)
    (outcome,) = route_pending(store, RULES, {"ann@acme.test": UNMATCHED}, T0)
    assert [i.action for i in outcome.intents] == ["call"]  # the fallback owner's Task
    (flag,) = store.skips.rows()
    assert (flag.skip.action, flag.skip.reason, flag.skip.expected) == (
        "flag",
        "no_record_to_update",
        False,
    )
    assert flag.skip.detail == "no matched salesforce Account to update"

    # The same response edited, still unmatched: the skip is decided again, not doubled.
    later = T0 + days(1)
    ingest(store, response("1", "ann@acme.test", 2, T0, "Slow", edited=later), now=later)
    route_pending(store, RULES, {"ann@acme.test": UNMATCHED}, later)
    (again,) = store.skips.rows()
    assert again.skip.key == flag.skip.key
    assert (again.first_skipped_at, again.skipped_at) == (T0, later)
    assert store.skips.counts() == {("no_record_to_update", False): 1}

    # Edited again, and now matched to an account: the action is made and the skip is gone.
    latest = later + days(1)
    ingest(store, response("1", "ann@acme.test", 2, T0, "Slower", edited=latest), now=latest)
    (resolved,) = route_pending(store, RULES, {"ann@acme.test": matched("ann@", ACME)}, latest)
    assert [i.action for i in resolved.intents] == ["flag", "call"]
    assert store.skips.rows() == []
    assert sorted(a.action for a in store.outbox.actions()) == ["call", "flag"]  # each once


def test_an_action_already_in_the_outbox_is_never_also_skipped(store: StateStore) -> None:
    ingest(store, response("1", "ann@acme.test", 2, T0), now=T0)
    route_pending(store, RULES, {"ann@acme.test": matched("ann@acme.test", ACME)}, T0)
    later = T0 + days(1)
    ingest(store, response("1", "ann@acme.test", 2, T0, "Slow", edited=later), now=later)
    (outcome,) = route_pending(store, RULES, {"ann@acme.test": UNMATCHED}, later)
    assert [s.reason for s in outcome.skips] == ["no_record_to_update"]  # decided, but done
    assert store.skips.rows() == []
    assert sorted(a.action for a in store.outbox.actions()) == ["call", "flag"]
