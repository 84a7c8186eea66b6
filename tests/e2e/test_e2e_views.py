"""The views from the seeded world, through the CLI: the frontline queue and the executive
report, whose HTML is opened in the system's headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulators.seed import REFERENCE_END
from emulators.world import EmulatedWorld
from sync.reports.nps import nps_of
from tests.support import acting_on_the_seeded_year, require, run_cli

#: The last moment of the seeded year (it ends just before REFERENCE_END, 2026-11-01).
LAST = REFERENCE_END - timedelta(seconds=1)
UNTIL = LAST.strftime("%Y-%m-%dT%H:%M:%S")
#: Screenshots of the rendered report are kept here too, outside pytest's temporary folders.
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@dataclass
class Synced:
    world: EmulatedWorld
    config: Path
    tmp: Path


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    tmp = tmp_path_factory.mktemp("views")
    with EmulatedWorld(seed=11, accounts=40, responses=300) as world:
        data = world.config_data(
            state_url=f"sqlite:///{tmp / 'state.db'}", routing=acting_on_the_seeded_year()
        )
        config = tmp / "nps-sync.yaml"
        config.write_text(json.dumps(data, default=str), encoding="utf-8")
        done = run_cli("sync", "--config", config)
        assert done.returncode == 0, done.stderr
        yield Synced(world, config, tmp)


def document(*args: str | Path) -> Any:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_queue_lists_an_owners_open_detractors_most_urgent_first(synced: Synced) -> None:
    report = document("report", "-c", synced.config, "--until", UNTIL, "--json")
    assert report["nps"]["n"] > 0
    book = synced.world.book
    users = {u.id: u.email for u in book.users}
    owner_of = {a.id: users[a.owner_id] for a in book.accounts}
    account_of = {c.email.lower(): c.account_id for c in book.contacts}
    counts: dict[str, int] = {}  # the owner with the most detractors in the seeded year
    for r in book.responses:
        account = account_of.get(r.email.lower())
        if account is not None and r.score <= 6:
            counts[owner_of[account]] = counts.get(owner_of[account], 0) + 1
    owner = max(sorted(counts), key=lambda k: counts[k])

    queue = document(
        "queue",
        "-c",
        synced.config,
        "--owner",
        owner.upper(),
        "--days",
        "400",
        "--until",
        UNTIL,
        "--json",
    )
    calls = queue["calls"]
    assert queue["owner"] == owner.lower()
    assert queue["known_owner"] is True
    assert calls, "the busiest owner has someone to call"
    assert all(c["loop"]["state"] not in ("resolved", "closed") for c in calls)
    assert all(c["score"] <= 8 for c in calls)
    rank = {"past_sla": 0, "due_today": 1, "in_time": 2}
    keys = [
        (
            rank[c["loop"]["sla"]],
            c["score"],
            -(c["account"]["arr"] or -1),
            c["account"]["renewal_date"] or "9999",
            c["answered_at"],
        )
        for c in calls
    ]
    assert keys == sorted(keys)
    assert all(c["next_step"] and c["reasons"][0].endswith(f"(score {c['score']})") for c in calls)

    table = run_cli(
        "queue", "-c", synced.config, "--owner", owner, "--days", "400", "--until", UNTIL
    )
    assert table.returncode == 0, table.stderr
    assert f"To call today: {owner}" in table.stdout

    typo = owner.replace("@", ".x@")
    mistyped = run_cli(
        "queue", "-c", synced.config, "--owner", typo, "--days", "400", "--until", UNTIL
    )
    assert mistyped.returncode == 0, mistyped.stderr
    said = " ".join(mistyped.stdout.split())
    assert f"No account owned by {typo} has an answer of the last 400 days" in said
    assert "the owners with answers: " in said
    assert "No one to call today" not in said


def test_report_figures_match_the_seeded_answers_of_the_month(synced: Synced) -> None:
    doc = document("report", "-c", synced.config, "--until", UNTIL, "--period", "quarter", "--json")
    start = datetime(2026, 10, 1, tzinfo=UTC)
    seeded = [r.score for r in synced.world.book.responses if start <= r.created_at <= LAST]
    expected = nps_of(seeded).to_json()
    assert doc["label"] == "2026-Q4"
    assert doc["nps"] == expected
    assert len(doc["trend"]) == 8
    assert sum(row["n"] for row in doc["segments"]["tier"]) == expected["n"]
    assert doc["loop"]["detractors"] == expected["detractors"]
    # revenue by category from the seeded Opportunities, drivers from the stored answers
    categories = {c["category"]: c for c in doc["revenue"]["categories"]}
    assert set(categories) == {"promoter", "passive", "detractor", "no score"}
    assert sum(c["renewal_rate"]["of"] for c in categories.values()) > 0
    assert doc["drivers"]["respondents"] > 0
    assert doc["themes"] is None

    offline = document(
        "report", "-c", synced.config, "--until", UNTIL, "--period", "quarter", "--no-revenue",
        "--json",
    )  # fmt: skip
    assert offline["revenue"] is None
    assert offline["nps"] == doc["nps"]


def test_the_html_report_renders_offline_in_chromium_with_its_charts(
    synced: Synced, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    done = run_cli("report", "-c", synced.config, "--until", UNTIL, "--out", page)
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    for fetching in ("<link", "src=", "@import", "url(http", 'href="http'):
        assert fetching not in html  # nothing to load: scripts, styles and charts are inline

    require(CHROMIUM, "Chromium (apt-get install chromium chromium-driver)")
    require(CHROMEDRIVER, "chromedriver (apt-get install chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.add_argument("--window-size=1200,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get(page.as_uri())
        charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart svg")
        ids = {c.find_element(By.XPATH, "..").get_attribute("id") for c in charts}
        assert {
            "chart-trend",
            "chart-mix",
            "chart-segment-tier",
            "chart-revenue",
            "chart-loop",
        } <= ids
        assert all(c.size["width"] > 100 and c.size["height"] > 50 for c in charts)
        figures = json.loads(
            driver.find_element(By.ID, "figures").get_attribute("textContent") or "{}"
        )
        assert figures["label"] == UNTIL[:7]
        console = driver.get_log("browser")  # type: ignore[no-untyped-call]
        errors = [e for e in console if e["level"] == "SEVERE"]
        assert errors == []
        loaded = driver.execute_script("return performance.getEntriesByType('resource').length")
        assert loaded == 0  # the page fetched nothing
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1200, int(height))
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert shot.stat().st_size > 20_000
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTEFACTS / "report.png")
    assert os.path.getsize(ARTEFACTS / "report.png") == shot.stat().st_size


def test_the_report_segments_by_account_fields_and_finds_comment_themes_among_drivers(
    synced: Synced, tmp_path: Path
) -> None:
    from sync.ops.insights import routed_rows
    from sync.state import open_store
    from sync.state.comment_text import CommentText

    state = tmp_path / "state.db"  # a copy: the other tests read the world without themes
    shutil.copyfile(synced.tmp / "state.db", state)
    state.chmod(0o600)
    data = json.loads(synced.config.read_text(encoding="utf-8"))
    data["state"]["url"] = f"sqlite:///{state}"
    data["insights"] = {"segments": {"account_fields": ["Industry"]}}
    config = tmp_path / "nps-sync.yaml"
    config.write_text(json.dumps(data), encoding="utf-8")
    store = open_store(f"sqlite:///{state}")
    store.comment_text.save(
        [  # every answer of 0 to 4 mentions onboarding
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
            for r in routed_rows(store)
            if r.response.score <= 4
        ],
        datetime.now(UTC),
    )
    store.close()
    pdf = tmp_path / "report.pdf"
    printing = ("--pdf", pdf) if CHROMIUM.exists() else ()

    doc = document(
        "report", "-c", config, "--until", UNTIL, "--period", "quarter", "--no-revenue",
        "--json", *printing,
    )  # fmt: skip

    def counts(dimension: str) -> dict[str, int]:
        return {row["segment"]: row["n"] for row in doc["segments"][dimension]}

    assert counts("Industry") == counts("industry")  # the seed's Industry, read from Salesforce
    features = {d["feature"]: d for d in doc["drivers"]["drivers"]}
    assert doc["drivers"]["comment_themes"] == "analysed"
    assert features["theme=onboarding"]["significant"]
    assert any(f.startswith("Industry=") for f in features)
    assert doc["themes"][0]["theme"] == "onboarding"
    if printing:
        assert pdf.read_bytes().startswith(b"%PDF-")


def test_a_date_alone_as_until_takes_in_that_whole_day(synced: Synced) -> None:
    """`report --until 2026-11-30` is November's report with its last day in it."""
    day = LAST.strftime("%Y-%m-%d")
    by_date = document("report", "-c", synced.config, "--until", day, "--no-revenue", "--json")
    by_end = document(
        "report", "-c", synced.config, "--until", f"{day}T23:59:59", "--no-revenue", "--json"
    )
    by_start = document(
        "report", "-c", synced.config, "--until", f"{day}T00:00", "--no-revenue", "--json"
    )
    assert by_date["until"] == by_end["until"] == f"{day}T23:59:59Z"
    assert by_date["nps"]["n"] == by_end["nps"]["n"] >= by_start["nps"]["n"]
