"""Routing on what a comment says: a theme and the sentiment, through whole passes.

The daemon's engine with the text analytics on, against the emulators over loopback: a comment
about getting started opens a ticket tagged with its theme, a very unhappy one gets a Task that
shows its sentiment, each response version is analysed once, and the response history object
stores what each comment says.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulators.world import EmulatedWorld
from sync.cli import main
from tests.e2e.conftest import EngineFactory
from tests.text.conftest import THEMES
from tests.text.test_text_hub_correction import PRICE_WITH_FEELINGS, survey
from tests.text.test_text_hub_correction import THEMES as HUB_THEMES

RULES = """version: 1
actions:
  onboarding_ticket:
    type: zendesk_ticket
    subject: "Onboarding trouble ({{ labels.theme }}): {{ response.themes | join(', ') }}"
    body: "{{ response.comment }}"
    create_requester: true
  unhappy_call:
    type: salesforce_task
    owner: account_owner
    subject: "Very unhappy customer (sentiment {{ '%.2f' | format(response.sentiment) }})"
    description: "{{ response.comment }}"
    due_in: 1d
rules:
  - name: onboarding
    when: {themes: {contains: onboarding}}
    actions: [onboarding_ticket]
    continue: true
  - name: very-unhappy
    when: {sentiment: {lt: -0.5}}
    actions: [unhappy_call]
  - name: rest
    actions: []
"""


@pytest.fixture
def world() -> Iterator[EmulatedWorld]:
    with EmulatedWorld(seed=5, accounts=3, responses=0) as w:
        yield w


def test_a_theme_and_the_sentiment_route_responses_and_show_in_what_is_created(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(THEMES, encoding="utf-8")
    text = {"enabled": True, "taxonomy": str(taxonomy)}
    contact = world.book.contacts[0]
    started = world.delighted.add_response(
        email=contact.email,
        score=6,
        comment="Setup was confusing and nobody helped us get started.",
    )
    furious = world.delighted.add_response(
        email=contact.email,
        score=1,
        comment="Terrible, awful experience. I hate it and I am very angry.",
    )
    calm = world.delighted.add_response(email=contact.email, score=9, comment="Works well.")

    history = {"history": {"enabled": True}}
    engine = make_engine(rules=rules, text=text, write_back=history)
    assert engine.run_once().errors == []

    by_response = {a.response_id: a for a in engine.store.outbox.actions()}
    assert by_response[started].kind == "zendesk_ticket"
    assert by_response[furious].kind == "salesforce_task"
    assert calm not in by_response
    ticket = world.zendesk.ticket(int(by_response[started].external_id or 0))
    assert ticket["subject"] == "Onboarding trouble (onboarding): onboarding"
    assert "theme_onboarding" in ticket["tags"]
    (task,) = [
        t for t in world.salesforce.records("Task") if t["Subject"].startswith("Very unhappy")
    ]
    assert float(task["Subject"].split("sentiment ")[1].rstrip(")")) < -0.5

    analysed = engine.store.comment_text.since(datetime(2000, 1, 1, tzinfo=UTC))
    assert {r.response_id: r.themes[:1] for r in analysed}[started] == ("onboarding",)
    assert {r.response_id for r in analysed} == {started, furious, calm}
    records = {r["Response_Id__c"]: r for r in world.salesforce.records("NPS_Response__c")}
    assert records[f"delighted:{started}"]["Themes__c"] == "onboarding"
    assert records[f"delighted:{furious}"]["Sentiment__c"] < -0.5
    assert records[f"delighted:{calm}"]["Sentiment__c"] > 0
    again = make_engine(rules=rules, text=text)
    assert again.run_once().errors == []
    assert engine.store.comment_text.since(datetime(2000, 1, 1, tzinfo=UTC)) == analysed
    assert len(again.store.outbox.actions()) == len(by_response)  # nothing twice


def test_text_themes_lists_counts_and_clusters_the_comments_that_fit_no_theme(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path, state_url: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(THEMES, encoding="utf-8")
    text = {"enabled": True, "taxonomy": str(taxonomy)}
    email = world.book.contacts[0].email
    for comment in (
        "Setup was confusing and nobody helped us get started.",
        "Installation took weeks, setup was confusing.",
        "The mobile app crashes on startup.",
        "Mobile app crashes after the update.",
        "The mobile app crashes every time.",
    ):
        world.delighted.add_response(email=email, score=5, comment=comment)
    assert make_engine(rules=rules, text=text).run_once().errors == []
    config = tmp_path / "nps-sync.yaml"
    data = world.config_data(state_url=state_url, rules=rules, text=text)
    config.write_text(json.dumps(data, default=str), encoding="utf-8")

    result = CliRunner().invoke(
        main, ["text", "themes", "--since", "30d", "-c", str(config), "--json"]
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["comments"] == 5
    assert [(t["theme"], t["comments"]) for t in summary["themes"]] == [("onboarding", 2)]
    assert summary["unthemed"] == 3
    [cluster] = summary["clusters"]
    assert cluster["comments"] == 3
    assert "app crashes" in cluster["phrases"]


def test_the_daemon_ranks_zero_shot_themes_with_the_comments_it_has_seen(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(HUB_THEMES, encoding="utf-8")
    email = world.book.contacts[0].email
    ids = {world.delighted.add_response(email=email, score=4, comment=c): c for c in survey()}

    engine = make_engine(rules=rules, text={"enabled": True, "taxonomy": str(taxonomy)})
    assert engine.run_once().errors == []

    analysed = engine.store.comment_text.since(datetime(2000, 1, 1, tzinfo=UTC))
    first_theme = {ids[r.response_id]: r.themes[:1] for r in analysed}
    assert [first_theme[c] for c in PRICE_WITH_FEELINGS] == [("pricing",)] * 3


def test_a_restarted_daemon_ranks_with_the_correction_measured_before_until_the_taxonomy_changes(
    world: EmulatedWorld, make_engine: EngineFactory, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    taxonomy = tmp_path / "themes.yaml"
    taxonomy.write_text(HUB_THEMES, encoding="utf-8")
    text = {"enabled": True, "taxonomy": str(taxonomy)}
    email = world.book.contacts[0].email
    for comment in survey():
        world.delighted.add_response(email=email, score=4, comment=comment)
    assert make_engine(rules=rules, text=text).run_once().errors == []

    def first_theme_after_a_restart(comment: str) -> tuple[str, ...]:
        response = world.delighted.add_response(email=email, score=4, comment=comment)
        assert make_engine(rules=rules, text=text).run_once().errors == []
        (result,) = [
            r
            for r in make_engine(rules=rules).store.comment_text.since(
                datetime(2000, 1, 1, tzinfo=UTC)
            )
            if r.response_id == response
        ]
        return result.themes[:1]

    # alone, a price complaint in the broad theme's words goes to it; with the survey measured,
    # to pricing (another response, analysed by a new process)
    assert first_theme_after_a_restart(PRICE_WITH_FEELINGS[0]) == ("pricing",)
    taxonomy.write_text(HUB_THEMES + "# reworded\n", encoding="utf-8")
    assert first_theme_after_a_restart(PRICE_WITH_FEELINGS[1]) == ("experience",)


@pytest.mark.parametrize(
    ("taxonomy", "message"),
    [
        (None, "text.taxonomy: cannot read"),
        ("themes:\n  - name: pricing\n    descripton: typo\n", "themes.yaml:3:5"),
    ],
)
def test_a_missing_or_wrong_taxonomy_stops_a_pass_before_it_pulls(
    world: EmulatedWorld, tmp_path: Path, state_url: str, taxonomy: str | None, message: str
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    themes = tmp_path / "themes.yaml"
    if taxonomy is not None:
        themes.write_text(taxonomy, encoding="utf-8")
    world.delighted.add_response(email=world.book.contacts[0].email, score=2, comment="Slow")
    config = tmp_path / "nps-sync.yaml"
    text = {"enabled": True, "taxonomy": str(themes)}
    data = world.config_data(state_url=state_url, rules=rules, text=text)
    config.write_text(json.dumps(data, default=str), encoding="utf-8")

    result = CliRunner().invoke(main, ["sync", "-c", str(config)])

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert world.delighted.calls["survey_responses"] == 0
