"""Sentiment on real survey-like text: Skytrax seat reviews (``../shared/data``, read-only).

Promoter-like reviews (overall 9-10) against detractor-like ones (1-6) stand in for NPS buckets.
The full figures are the benchmark's (``make bench``); this keeps a small sample honest.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from sklearn.metrics import roc_auc_score

from insights.text import Taxonomy, TextAnalyzer
from insights.text.encoder import SentenceEncoder
from tests.support import require

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("NPS_SYNC_DATA") or ROOT.parent / "shared" / "data")


def _reviews(limit: int) -> tuple[list[str], list[int]]:
    path = require(DATA / "skytrax_seat.csv", "the Skytrax reviews (shared data)")
    texts, promoter = [], []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rating = round(float(row["overall_rating"] or 0))
            if row["content"].strip() and (rating >= 9 or 1 <= rating <= 6):
                texts.append(row["content"])
                promoter.append(int(rating >= 9))
    return texts[:limit], promoter[:limit]


def test_the_model_separates_promoters_from_detractors(
    taxonomy: Taxonomy, encoder: SentenceEncoder
) -> None:
    texts, promoter = _reviews(150)
    scores = [r.sentiment for r in TextAnalyzer(taxonomy, encoder=encoder).analyze(texts)]
    assert roc_auc_score(promoter, scores) >= 0.88


def test_the_lexicon_alone_still_separates_them(taxonomy: Taxonomy) -> None:
    texts, promoter = _reviews(2000)
    scores = [r.sentiment for r in TextAnalyzer(taxonomy, model="lexicon").analyze(texts)]
    assert roc_auc_score(promoter, scores) >= 0.85
