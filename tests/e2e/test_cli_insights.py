"""``nps-sync insights``: figures from a synced world, through the CLI, checked against the seed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from emulators.seed import REFERENCE_END
from emulators.world import EmulatedWorld
from insights.nps import Counts
from sync.state import open_store
from tests.support import acting_on_the_seeded_year, run_cli

SINCE = "2026-03-01"
UNTIL = REFERENCE_END.strftime("%Y-%m-%d")


@dataclass
class Synced:
    world: EmulatedWorld
    config: Path
    state: Path


def document(*args: str | Path) -> Any:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    tmp = tmp_path_factory.mktemp("insights")
    with EmulatedWorld(seed=11, accounts=20, responses=120) as world:
        data = world.config_data(
            state_url=f"sqlite:///{tmp / 'state.db'}", routing=acting_on_the_seeded_year()
        )
        config = tmp / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        done = run_cli("sync", "--config", config)
        assert done.returncode == 0, done.stderr
        yield Synced(world, config, tmp / "state.db")


def expected_by_tier(world: EmulatedWorld, start: datetime, end: datetime) -> dict[str, Counts]:
    """Each person's latest answer in the period, by the tier of their account: their contact's,
    else the one of their email's domain."""
    book = world.book
    accounts = {a.id: a for a in book.accounts}
    by_domain = {a.domain: a for a in book.accounts}
    contacts = {c.email.lower(): c for c in book.contacts}
    latest: dict[str, tuple[datetime, int, str]] = {}
    for r in book.responses:
        email = r.email.lower()
        contact = contacts.get(email)
        account = accounts[contact.account_id] if contact else by_domain.get(email.split("@")[1])
        if account is None or not start < r.created_at <= end:
            continue
        person = contact.id if contact else email
        seen = latest.get(person)
        if seen is None or r.created_at > seen[0]:
            latest[person] = (r.created_at, r.score, account.tier)
    scores: dict[str, list[int]] = {}
    for _, score, tier in latest.values():
        scores.setdefault(tier, []).append(score)
    return {tier: Counts.of_scores(s) for tier, s in scores.items()}


def test_segments_count_each_person_once_by_their_account(synced: Synced) -> None:
    found = document(
        "insights", "segments", "--by", "tier", "--since", SINCE, "--until", UNTIL,
        "--json", "--config", synced.config,
    )  # fmt: skip
    # A date alone in --until is the end of that day.
    assert found["period"] == {"start": f"{SINCE}T00:00:00Z", "end": f"{UNTIL}T23:59:59Z"}
    assert found["method"] == "adjusted"
    (tier,) = found["attributes"]
    expected = expected_by_tier(
        synced.world,
        datetime.fromisoformat(SINCE).replace(tzinfo=UTC),
        datetime.fromisoformat(UNTIL).replace(tzinfo=UTC),
    )
    by_segment = {s["segment"]: s for s in tier["segments"]}
    assert set(by_segment) == set(expected)
    for name, counts in expected.items():
        segment = by_segment[name]
        assert (segment["promoters"], segment["passives"], segment["detractors"]) == (
            counts.promoters,
            counts.passives,
            counts.detractors,
        )
        assert segment["nps"] == pytest.approx(counts.nps)
        assert segment["interval"]["low"] <= segment["nps"] <= segment["interval"]["high"]
        assert segment["small_sample"] is (counts.respondents < 30)
    overall = tier["overall"]
    assert overall["respondents"] == sum(s["respondents"] for s in tier["segments"])


def test_every_attribute_splits_the_same_respondents(synced: Synced) -> None:
    found = document(
        "insights", "segments", "--since", SINCE, "--until", UNTIL, "--json",
        "--config", synced.config,
    )  # fmt: skip
    attributes = [a["attribute"] for a in found["attributes"]]
    assert attributes == ["tier", "industry", "region", "tenure", "support", "owner"]
    totals = {a["overall"]["respondents"] for a in found["attributes"]}
    assert len(totals) == 1
    assert totals.pop() > 0
    for attribute in found["attributes"]:
        assert (
            sum(s["respondents"] for s in attribute["segments"])
            == (attribute["overall"]["respondents"])
        )


def test_segments_table_shows_intervals_and_what_the_marks_mean(synced: Synced) -> None:
    done = run_cli(
        "insights", "segments", "--by", "region", "--since", SINCE, "--until", UNTIL,
        "--config", synced.config,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"NPS by region, {SINCE} to {UNTIL}" in done.stdout
    assert "[95% interval]" in done.stdout
    assert "the interval of the difference" in done.stdout


def test_revenue_reads_the_opportunities_of_the_surveyed_accounts(synced: Synced) -> None:
    found = document(
        "insights", "revenue", "--since", "2025-11-01", "--until", UNTIL, "--json",
        "--config", synced.config,
    )  # fmt: skip
    assert found["period"] == {"start": "2025-11-01", "end": UNTIL}
    categories = {c["category"]: c for c in found["categories"]}
    assert list(categories) == ["promoter", "passive", "detractor", "no score"]
    store = open_store(f"sqlite:///{synced.state}")
    _, surveyed = store.inbox.routed_record_ids()
    start, end = date(2025, 11, 1), REFERENCE_END.date()
    renewals = [
        o
        for o in synced.world.book.opportunities
        if o.account_id in surveyed
        and o.type == "Renewal"
        and o.stage.startswith("Closed")
        and start < o.close_date <= end
    ]
    assert sum(c["renewal_rate"]["of"] for c in categories.values()) == len(renewals)
    assert sum(c["churn_rate"]["count"] for c in categories.values()) == len(
        [o for o in renewals if o.stage == "Closed Lost"]
    )
    assert sum(c["renewal_amount"] for c in categories.values()) == pytest.approx(
        sum(o.amount for o in renewals)
    )
    for c in categories.values():
        rate = c["renewal_rate"]
        if rate["of"]:
            assert rate["interval"]["low"] <= rate["share"] <= rate["interval"]["high"]
    assert set(found["churn_risk_detractors_vs_promoters"]) == {"value", "interval", "significant"}
    loops = found["score_change_after_loop"]
    assert set(loops) == {"resolved", "not_resolved", "gap"}
    assert loops["resolved"]["pairs"] + loops["not_resolved"]["pairs"] > 0


def test_revenue_table_reads_in_words(synced: Synced) -> None:
    done = run_cli(
        "insights", "revenue", "--since", "2025-11-01", "--until", UNTIL, "--config", synced.config
    )
    assert done.returncode == 0, done.stderr
    assert "Renewals by NPS category" in done.stdout
    assert "Revenue at risk" in done.stdout


def test_drivers_give_every_feature_a_ratio_and_a_reading(synced: Synced) -> None:
    found = document(
        "insights", "drivers", "--since", SINCE, "--until", UNTIL, "--json",
        "--config", synced.config,
    )  # fmt: skip
    assert found["respondents"] > 0
    assert found["drivers"]
    for driver in found["drivers"]:
        assert driver["feature"] == f"{driver['attribute']}={driver['value']}"
        assert driver["with_feature"]["of"] >= 5
        assert driver["reading"].startswith("Respondents with ")
        if driver["significant"]:
            assert driver["accounts"] >= 5
    again = document(
        "insights", "drivers", "--since", SINCE, "--until", UNTIL, "--json",
        "--config", synced.config,
    )  # fmt: skip
    assert again["drivers"] == found["drivers"]  # seeded resamples: the same figures


def test_trend_gives_each_month_its_nps_and_change(synced: Synced) -> None:
    found = document(
        "insights", "trend", "--every", "quarter", "--since", "2025-11-01", "--until", UNTIL,
        "--json", "--config", synced.config,
    )  # fmt: skip
    starts = [p["start"] for p in found["periods"]]
    assert starts == [
        "2025-11-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
        "2026-07-01T00:00:00Z",
        "2026-10-01T00:00:00Z",
    ]
    assert found["periods"][0]["change"] is None
    assert sum(p["respondents"] for p in found["periods"]) > 0
    for p in found["periods"]:
        assert p["promoters"] + p["passives"] + p["detractors"] == p["respondents"]


def test_an_account_field_segments_like_the_attribute_it_mirrors(synced: Synced) -> None:
    found = document(
        "insights", "segments", "--by", "industry", "--by", "Industry", "--since", SINCE,
        "--until", UNTIL, "--json", "--config", synced.config,
    )  # fmt: skip
    built_in, field = found["attributes"]
    assert (built_in["attribute"], field["attribute"]) == ("industry", "Industry")

    def counts(attribute: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
        return {
            s["segment"]: (s["promoters"], s["passives"], s["detractors"])
            for s in attribute["segments"]
        }

    assert counts(field) == counts(built_in)  # the seed's Industry is what matching stored
    assert len(counts(field)) > 1


def test_an_unknown_account_field_is_named(synced: Synced) -> None:
    done = run_cli(
        "insights", "segments", "--by", "Health__c", "--since", SINCE, "--until", UNTIL,
        "--config", synced.config,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr  # named on the command line: a usage error
    assert "Invalid value for --by: Account has no field Health__c" in done.stderr
    assert "credentials" not in done.stderr
    bad = run_cli("insights", "segments", "--by", "no such", "--config", synced.config)
    assert bad.returncode == 2
    assert "neither a built-in segment" in bad.stderr


def test_comment_themes_are_drivers_once_comments_are_analysed(
    synced: Synced, tmp_path: Path
) -> None:
    from sync.fields.respondents import latest_in_period
    from sync.ops.insights import routed_rows
    from sync.state.comment_text import CommentText

    state = tmp_path / "state.db"  # a copy: the other tests read the world without themes
    shutil.copyfile(synced.state, state)
    state.chmod(0o600)
    data = json.loads(synced.config.read_text(encoding="utf-8"))
    data["state"]["url"] = f"sqlite:///{state}"
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data), encoding="utf-8")
    store = open_store(f"sqlite:///{state}")
    rows = routed_rows(store)
    # Every answer of 0 to 4 mentions onboarding, and nothing else is analysed.
    store.comment_text.save(
        [
            CommentText(
                r.response.source,
                r.response.response_id,
                r.version,
                "a1",
                -0.5,
                ("onboarding",),
                r.response.created_at,
                r.response.score,
            )
            for r in rows
            if r.response.score <= 4
        ],
        datetime.now(UTC),
    )
    start = datetime.fromisoformat(SINCE).replace(tzinfo=UTC)
    end = datetime.fromisoformat(UNTIL).replace(tzinfo=UTC)
    latest = latest_in_period(rows, start=start, end=end)
    store.close()
    mentioning = sum(r.response.score <= 4 for r in latest)
    others = [r for r in latest if r.response.score > 4]
    others_detractors = sum(r.response.score <= 6 for r in others)

    period = ("--since", SINCE, "--until", UNTIL, "--config", config)
    found = document("insights", "drivers", *period, "--json")

    assert found["comment_themes"] == "analysed"
    (onboarding,) = [d for d in found["drivers"] if d["feature"] == "theme=onboarding"]
    assert onboarding["with_feature"]["count"] == onboarding["with_feature"]["of"] == mentioning
    assert onboarding["without_feature"]["of"] == len(others)
    assert onboarding["without_feature"]["count"] == others_detractors
    # Every one of them a detractor: half a count in each cell, as the module says.
    expected = ((mentioning + 0.5) / (mentioning + 1)) / (
        (others_detractors + 0.5) / (len(others) + 1)
    )
    assert onboarding["risk_ratio"] == pytest.approx(expected)
    assert onboarding["significant"]
    assert onboarding["reading"].startswith("Respondents who mention onboarding: ")

    table = run_cli("insights", "drivers", *period)
    assert table.returncode == 0, table.stderr
    assert "theme: onboarding" in table.stdout
    assert onboarding["reading"] in " ".join(table.stdout.split())

    plain = document("insights", "drivers", "--since", SINCE, "--until", UNTIL, "--json",
                     "--config", synced.config)  # fmt: skip
    assert plain["comment_themes"] == "not analysed"
