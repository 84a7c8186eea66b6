"""The shared feedback data sets, read for the text benchmark and the tests that use them.

They live beside the project (``../shared/data``) and are never copied into it. The tweets went
through a find-and-replace that wrote theme names into the text ("late" became "Late Flight");
:func:`restore_tweet` undoes it, so no figure profits from a label leaked into its input.
"""

from __future__ import annotations

import csv
import html
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("NPS_SYNC_DATA") or ROOT.parent / "shared" / "data")
SKYTRAX = DATA / "skytrax_seat.csv"
TWEETS = DATA / "airline_tweets_dev.csv"
AIRLINE_THEMES = Path(__file__).with_name("text_airline_themes.yaml")

#: The published replacements and the word stems they replaced: "Cancel" became "Cancelled
#: Flight" inside every word ("Cancelled Flightled", "Cancelled Flighted", "Cancelled
#: Flightlation"), "late" became "Late Flight" ("Late Flightr" was "later").
LEAKS = (
    ("Flight Booking Problems", "booking"),
    ("Cancelled Flight", "Cancel"),
    ("Late Flight", "late"),
)


@dataclass(frozen=True, slots=True)
class Review:
    text: str
    overall: int


@dataclass(frozen=True, slots=True)
class Tweet:
    text: str
    airline: str
    sentiment: str
    theme: str


def restore_tweet(text: str) -> str:
    """The tweet as written: leaked theme names undone, HTML entities decoded."""
    for leaked, original in LEAKS:
        text = text.replace(leaked, original)
    return html.unescape(text)


def read_reviews(path: Path = SKYTRAX) -> list[Review]:
    """Seat reviews with an overall rating (1-10)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Review(row["content"], round(float(row["overall_rating"])))
            for row in csv.DictReader(handle)
            if row["overall_rating"].strip() and row["content"].strip()
        ]


def read_tweets(path: Path = TWEETS) -> list[Tweet]:
    """Every tweet, its text restored; ``theme`` is "" when none is usable (or "Can't Tell")."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            Tweet(
                restore_tweet(row["text"]),
                row["airline"],
                row["airline_sentiment"],
                "" if row["negativereason"] in ("", "Can't Tell") else row["negativereason"],
            )
            for row in csv.DictReader(handle)
        ]


def nps_proxy(reviews: list[Review]) -> tuple[list[str], list[int]]:
    """Promoter (1) and detractor (0) reviews by overall rating: 9-10 against 1-6. The rating is
    not a likelihood to recommend and runs 1-10, so this stands in for NPS buckets, no more."""
    kept = [r for r in reviews if r.overall >= 9 or r.overall <= 6]
    return [r.text for r in kept], [1 if r.overall >= 9 else 0 for r in kept]
