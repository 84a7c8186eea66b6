"""An SLA that escalates, through whole passes: a detractor not contacted by the deadline is
escalated once; an answer edited to a promoter before then is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from emulators.world import EmulatedWorld
from tests.e2e.conftest import EngineFactory

RULES = """version: 1
actions:
  call:
    type: salesforce_task
    subject: "Call {{ response.person_email }}"
    due_in: 1d
  sla_overdue:
    type: salesforce_task
    subject: "SLA overdue for {{ response.person_email }}"
    due_in: 1h
rules:
  - name: detractors
    when: {category: detractor}
    actions: [call]
"""
SLA = {
    "sla": [
        {
            "category": "detractor",
            "first_contact": "1h",
            "business_hours": False,
            "escalate": "sla_overdue",
        }
    ]
}


def test_an_answer_edited_to_a_promoter_is_no_longer_escalated(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    answered_before = {r.email.lower() for r in world.book.responses}
    still, changed = [c for c in world.book.contacts if c.email.lower() not in answered_before][:2]
    answered = datetime.now(UTC) - timedelta(minutes=5)
    world.delighted.add_response(email=still.email, score=2, created_at=answered)
    edited = world.delighted.add_response(email=changed.email, score=3, created_at=answered)
    assert make_engine(rules=rules, loop=SLA).run_once().errors == []

    world.delighted.update_response(edited, score=10, comment="Sorted out, thanks")
    later = make_engine(rules=rules, loop=SLA)
    later.clock = lambda: datetime.now(UTC) + timedelta(hours=2)  # past both deadlines
    report = later.run_once()

    assert report.errors == []
    ours = {f"SLA overdue for {c.email.lower()}" for c in (still, changed)}
    overdue = [t["Subject"] for t in world.salesforce.records("Task") if t["Subject"] in ours]
    assert overdue == [f"SLA overdue for {still.email.lower()}"]
