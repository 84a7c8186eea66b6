"""Zero-shot themes corrected for hubs: a theme close to every comment stops winning them all.

The survey below is the case the correction is for: a broad theme ("experience") that many
comments are about and whose words ("disappointing", "not happy") turn up in complaints about
something specific. Without the correction the broad theme takes price complaints; measured on
the comments themselves, it has to beat its own usual best and the specific theme wins.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from insights.text import Taxonomy, TextAnalyzer, parse_taxonomy
from insights.text.encoder import SentenceEncoder
from insights.text.hubness import MINIMUM, SAMPLE, HubCorrection, spread
from sync.cli import main

THEMES = """\
themes:
  - name: experience
    description: How the customer felt about us overall, good or bad
    examples:
      [a really bad experience, I am very disappointed, it was a great experience,
       not happy at all, could be much better]
  - name: delivery
    description: Shipping, couriers and parcels arriving late or not at all
    examples: [the parcel arrived late, courier never came, delivery took two weeks]
  - name: pricing
    description: Price, cost, invoices and value for money
    examples: [too expensive, the invoice was wrong, good value for money]
  - name: support
    description: Help from the support team, tickets and response times
    examples: [support was slow, nobody answered my ticket, the support agent was great]
"""

SUBJECTS = {
    "delivery": ["My parcel", "The package", "My order", "The shipment", "The box"],
    "pricing": ["The monthly fee", "The price", "The bill", "The subscription cost"],
    "support": ["The helpdesk", "Your support staff", "The support line", "The chat agent"],
}
WHAT = {
    "delivery": ["arrived a week late", "never showed up", "came after the promised date"],
    "pricing": ["went up again", "doubled without warning", "is far too high"],
    "support": ["never replied to me", "closed my ticket without an answer", "was rude to me"],
}
FEELINGS = ["so disappointing", "not happy", "really bad"]
GENERAL = [
    "Really bad experience overall.",
    "I am very disappointed with you.",
    "Not happy at all with this company.",
    "Could be much better, honestly.",
    "A terrible experience from start to finish.",
    "So disappointed, I expected more.",
    "Worst experience I have had with any company.",
    "Overall I am not happy.",
    "Very poor experience.",
]
#: Price complaints in the words of the broad theme: it takes them unless corrected.
PRICE_WITH_FEELINGS = [
    "The monthly fee went up again, so disappointing.",
    "The price doubled without warning, not happy.",
    "The bill went up again, so disappointing.",
]


def survey() -> list[str]:
    comments = [
        f"{subject} {what}, {feeling}."
        for theme, subjects in SUBJECTS.items()
        for subject in subjects
        for what, feeling in zip(WHAT[theme], FEELINGS, strict=True)
    ]
    return comments + GENERAL * 3 + PRICE_WITH_FEELINGS


def hub_taxonomy() -> Taxonomy:
    return parse_taxonomy(THEMES, "themes.yaml")


def test_the_broad_theme_takes_specific_complaints_until_the_analyzer_has_seen_the_survey(
    encoder: SentenceEncoder,
) -> None:
    comments = survey()
    analyzer = TextAnalyzer(hub_taxonomy(), encoder=encoder)
    before = analyzer.analyze(PRICE_WITH_FEELINGS)
    assert [r.theme_names[0] for r in before] == ["experience"] * 3

    prepared = analyzer.prepare(comments)
    analyzer.adapt(prepared)
    after = dict(zip(comments, analyzer.results(prepared), strict=True))
    assert [after[c].theme_names[0] for c in PRICE_WITH_FEELINGS] == ["pricing"] * 3
    assert all(after[c].theme_names[0] == "experience" for c in GENERAL[:5])
    # whether a comment fits a theme at all is decided before the correction
    uncorrected = TextAnalyzer(hub_taxonomy(), encoder=encoder).analyze(comments)
    assert [bool(r.themes) for r in uncorrected] == [bool(after[c].themes) for c in comments]


def test_text_analyze_corrects_with_the_file_it_reads(tmp_path: Path) -> None:
    themes = tmp_path / "themes.yaml"
    themes.write_text(THEMES, encoding="utf-8")
    comments = tmp_path / "comments.csv"
    with comments.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "comment"])
        writer.writerows(enumerate(survey()))
    result = CliRunner().invoke(
        main, ["text", "analyze", str(comments), "--taxonomy", str(themes), "--model", "minilm"]
    )
    assert result.exit_code == 0, result.output
    themes_of = {
        survey()[int(line["id"])]: line["themes"]
        for line in map(json.loads, result.stdout.splitlines())
    }
    assert [themes_of[c][0] for c in PRICE_WITH_FEELINGS] == ["pricing"] * 3


def test_a_few_comments_are_not_enough_to_correct_anything(encoder: SentenceEncoder) -> None:
    analyzer = TextAnalyzer(hub_taxonomy(), encoder=encoder)
    few = survey()[-MINIMUM + 1 :]
    analyzer.adapt(analyzer.prepare(few))
    assert [r.theme_names for r in analyzer.analyze(PRICE_WITH_FEELINGS)] == [
        r.theme_names
        for r in TextAnalyzer(hub_taxonomy(), encoder=encoder).analyze(PRICE_WITH_FEELINGS)
    ]


def test_the_correction_stops_changing_once_the_sample_is_full() -> None:
    centroids = np.eye(2, dtype=np.float32)
    hubs = HubCorrection(centroids)
    hubs.add(np.tile(np.array([[1.0, 0.0]], dtype=np.float32), (SAMPLE, 1)))
    assert hubs.complete
    assert hubs.penalty.tolist() == [0.5, 0.0]
    hubs.add(np.tile(np.array([[0.0, 1.0]], dtype=np.float32), (SAMPLE, 1)))
    assert hubs.penalty.tolist() == [0.5, 0.0]


def test_a_sample_of_a_long_input_is_spread_over_all_of_it() -> None:
    positions = spread(10_000)
    assert len(positions) == SAMPLE
    assert positions[0] == 0
    assert positions[-1] == 9_999
    assert spread(10_000) == positions  # the same every time
    assert spread(30) == list(range(30))


def test_a_measurement_carried_on_elsewhere_corrects_as_if_it_had_not_stopped() -> None:
    rng = np.random.default_rng(3)
    centroids = rng.normal(size=(4, 8)).astype(np.float32)
    comments = rng.normal(size=(300, 8)).astype(np.float32)
    whole = HubCorrection(centroids)
    whole.add(comments)
    first = HubCorrection(centroids)
    first.add(comments[:120])
    resumed = HubCorrection(centroids)
    resumed.resume(first.sample)
    resumed.add(comments[120:])
    assert resumed.sample.seen == 300
    assert resumed.penalty.tolist() == whole.penalty.tolist()
