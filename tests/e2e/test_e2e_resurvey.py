"""A resolved loop asks Delighted to survey the person again; the answer comes back tied to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulators.world import EmulatedWorld
from sync.stages.executors.resurvey import LOOP_PROPERTY
from tests.e2e.conftest import EngineFactory
from tests.support import acting_on_the_seeded_year, run_cli

RULES = """version: 1
actions:
  detractor_ticket:
    type: zendesk_ticket
    subject: "NPS {{ response.score }}"
    body: "{{ response.comment }}"
    create_requester: true
  win_back:
    type: resurvey
    after: 14d
    cooldown: 90d
    properties: {Campaign: "win-back {{ response.score }}"}
rules:
  - name: detractors
    when: {score: {lte: 6}}
    actions: [detractor_ticket, win_back]
  - name: rest
    actions: []
"""


def test_a_resolved_loop_is_resurveyed_once_after_the_delay_and_the_answer_names_it(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path, state_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    engine = make_engine(rules=rules)
    assert engine.run_once().errors == []
    since = engine.clock() - timedelta(days=1)
    tickets = {
        key: int(str(items[0].external_id))
        for key, items in engine.store.loops.followups(since).items()
    }
    facts = engine.store.loops.facts()
    last_answer = {f.email: f.answered_at for f in facts}  # oldest first: the last one stays
    # The newest detractor who has not answered again since (the report's window reaches it).
    chosen = max(
        (f for f in facts if (f.source, f.response_id) in tickets
         and last_answer[f.email] == f.answered_at),
        key=lambda f: f.answered_at,
    )  # fmt: skip
    source, response_id = chosen.source, chosen.response_id
    ticket_id = tickets[(source, response_id)]
    assert world.delighted.scheduled_surveys() == []  # nothing before a loop is resolved

    world.zendesk.agent_replies(ticket_id, "Sorry about that, fixed now.")
    world.zendesk.solve_ticket(ticket_id)
    world.zendesk.advance_clock(61)
    for _ in range(3):  # read the solve, resolve the loop, ask for the survey
        assert make_engine(rules=rules).run_once().errors == []

    loop = engine.store.loops.current()[(source, response_id)]
    assert loop.state == "resolved"
    assert loop.ended_at is not None
    (survey,) = world.delighted.scheduled_surveys()
    due = loop.ended_at + timedelta(days=14)
    assert abs(datetime.fromtimestamp(survey["send_at"], UTC) - due) < timedelta(seconds=5)
    assert survey["properties"][LOOP_PROPERTY] == f"{source}:{response_id}"
    assert survey["properties"]["Campaign"].startswith("win-back ")
    (action,) = [a for a in engine.store.outbox.actions() if a.kind == "resurvey"
                 and a.response_id == response_id]  # fmt: skip
    assert action.status == "done"
    assert action.external_id

    for _ in range(2):  # nothing is asked twice
        assert make_engine(rules=rules).run_once().errors == []
    assert len(world.delighted.scheduled_surveys()) == 1
    others = [
        a for a in engine.store.outbox.actions() if a.kind == "resurvey" and a.status != "done"
    ]
    assert others  # the other loops are still open: their resurveys wait

    answer = world.delighted.answer_scheduled(survey["email"], score=9, comment="Much better")
    assert make_engine(rules=rules).run_once().errors == []
    stored = engine.store.inbox.get("delighted", answer)
    assert stored is not None
    assert stored.response.properties[LOOP_PROPERTY] == f"{source}:{response_id}"
    score_before = chosen.score

    data = world.config_data(state_url=state_url, rules=rules, routing=acting_on_the_seeded_year())
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data, default=str), encoding="utf-8")
    done = run_cli("loop", "report", "--since", "365d", "--json", "--config", config)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)["total"]["resurvey"]
    assert figures == {
        "sent": 1,
        "answered": 1,
        "response_rate": 1.0,
        "mean_before": float(score_before),
        "mean_after": 9.0,
        "recovered": 1,
    }
    text = run_cli("loop", "report", "--since", "365d", "--config", config)
    assert "Resurveys: 1 sent, 1 answered" in text.stdout
