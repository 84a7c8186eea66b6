"""Text analytics benchmark: every goal of the comment analytics, measured on the shared data.

- Sentiment: ROC AUC of the sentiment score separating promoter from detractor seat reviews
  (overall 9-10 against 1-6: a proxy for NPS buckets, the rating is not a recommend question).
- Themes without labelled data: macro-F1 of the top theme on the 3,717 negative airline tweets
  whose complaint theme is usable, against a nine-theme taxonomy of descriptions and five
  examples each (``text_airline_themes.yaml``), with the hub correction measured on 1,000 of
  them spread evenly, as ``text analyze`` would on that file; also per airline.
- Themes learned from other customers: train on the tweets of three airlines, test on the fourth,
  for each airline in turn; the mean macro-F1.
- Throughput on one core (comments a second, tweets and reviews), and the peak RSS of a fresh
  interpreter holding the daemon's modules and the loaded model, measured in a child process.

The tweets are read with their leaked theme names undone (see ``bench.text_data``).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.text_data import AIRLINE_THEMES, DATA, Tweet, nps_proxy, read_reviews, read_tweets
from insights.text import LabelledComment, TextAnalyzer, parse_taxonomy
from insights.text.analyzer import ModelChoice
from insights.text.encoder import MAX_TOKENS
from insights.text.hubness import spread

GOALS = {"auc": 0.90, "zero_shot": 0.55, "trained": 0.70, "rate": 200.0, "rss": 400.0}


def _macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro"))


def _top(analyzer: TextAnalyzer, texts: Sequence[str]) -> list[str]:
    return [r.themes[0].name if r.themes else "" for r in analyzer.analyze(texts)]


def quality(model: ModelChoice) -> dict[str, float]:
    """Sentiment AUC, zero-shot and cross-airline macro-F1 with one model."""
    from sklearn.metrics import roc_auc_score

    taxonomy = parse_taxonomy(AIRLINE_THEMES.read_text(encoding="utf-8"), str(AIRLINE_THEMES))
    analyzer = TextAnalyzer(taxonomy, model=model)
    texts, promoter = nps_proxy(read_reviews())
    sentiment = [r.sentiment for r in analyzer.analyze(texts)]
    figures = {"auc": float(roc_auc_score(promoter, sentiment))}
    tweets = [t for t in read_tweets() if t.theme]
    truth = [t.theme for t in tweets]
    analyzer.adapt(analyzer.prepare([tweets[i].text for i in spread(len(tweets))]))
    predicted = _top(analyzer, [t.text for t in tweets])
    figures["zero_shot"] = _macro_f1(truth, predicted)
    figures["no_theme"] = sum(1 for p in predicted if not p) / len(predicted)
    for airline in _airlines(tweets):
        mine = [i for i, t in enumerate(tweets) if t.airline == airline]
        figures[f"zero_shot:{airline}"] = _macro_f1(
            [truth[i] for i in mine], [predicted[i] for i in mine]
        )
    per_airline = []
    for airline in _airlines(tweets):
        train = [LabelledComment(t.text, t.theme) for t in tweets if t.airline != airline]
        test = [t for t in tweets if t.airline == airline]
        trained = TextAnalyzer(taxonomy, model=model, labelled=train, encoder=analyzer.encoder)
        per_airline.append(
            _macro_f1([t.theme for t in test], _top(trained, [t.text for t in test]))
        )
        figures[f"trained:{airline}"] = per_airline[-1]
    figures["trained"] = sum(per_airline) / len(per_airline)
    return figures


def _airlines(tweets: Sequence[Tweet]) -> list[str]:
    return sorted({t.airline for t in tweets})


def footprint(model: ModelChoice) -> dict[str, float]:
    """In a fresh interpreter pinned to one core: comments a second and the peak RSS."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import sync.app.engine
    import sync.cli  # noqa: F401 - the daemon's modules are part of the footprint

    taxonomy = parse_taxonomy(AIRLINE_THEMES.read_text(encoding="utf-8"), str(AIRLINE_THEMES))
    analyzer = TextAnalyzer(taxonomy, model=model)
    figures: dict[str, float] = {}
    samples = {
        "tweets": [t.text for t in read_tweets()][:2000],
        "reviews": [r.text for r in read_reviews()][:500],
    }
    for name, texts in samples.items():
        started = time.process_time()
        prepared = analyzer.prepare(texts)  # as the daemon does: sample, then score
        analyzer.adapt(prepared)
        analyzer.results(prepared)
        figures[f"rate:{name}"] = len(texts) / (time.process_time() - started)
    figures["rss"] = _peak_rss_mb()
    return figures


def _peak_rss_mb() -> float:
    """This process's own peak RSS. ``ru_maxrss`` would not do: Linux carries it across exec,
    so a child started by a large parent reports the parent's peak."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_footprint(model: ModelChoice) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - this interpreter running this module
        [sys.executable, "-m", "bench.text", "--footprint", model],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def run_text_benchmark(models: Sequence[ModelChoice] = ("minilm", "lexicon")) -> None:
    console = Console()
    if not DATA.exists():
        console.print(f"Text analytics: FAILED, the shared data is not at {DATA}")
        return
    table = Table(title="Comment text analytics (goal in brackets)")
    for column in (
        "model",
        "sentiment AUC, Skytrax 9-10 vs 1-6 [0.90]",
        "zero-shot top-theme macro-F1, tweets [0.55]",
        "cross-airline trained macro-F1 [0.70]",
        "comments/s on one core, tweets / reviews [200]",
        "peak RSS MB [400]",
    ):
        table.add_column(column)
    for model in models:
        try:
            q = quality(model)
            f = _child_footprint(model)
        except Exception as error:  # a failing row reports and the benchmark goes on
            console.print(f"Text analytics ({model}): FAILED {error!r}")
            continue
        airlines = ", ".join(
            f"{k.split(':')[1]} {v:.2f}" for k, v in q.items() if k.startswith("trained:")
        )
        zero_shot = ", ".join(
            f"{k.split(':')[1]} {v:.2f}" for k, v in q.items() if k.startswith("zero_shot:")
        )
        table.add_row(
            model,
            f"{q['auc']:.3f}",
            f"{q['zero_shot']:.3f} ({zero_shot}; {q['no_theme']:.0%} without a theme)",
            f"{q['trained']:.3f} ({airlines})",
            f"{f['rate:tweets']:.0f} / {f['rate:reviews']:.0f}",
            f"{f['rss']:.0f}",
        )
    console.print(table)
    console.print(f"Data: {DATA} (3,717 negative tweets with a usable theme; reviews 9-10 vs 1-6).")
    console.print(
        "Throughput: 2,000 tweets and 500 reviews analysed by a child process pinned to one core"
        " (sched_setaffinity), onnxruntime on one thread, CPU time of the whole process;"
        f" comments cut at {MAX_TOKENS} tokens."
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--footprint"]:
        chosen: ModelChoice = "lexicon" if sys.argv[2] == "lexicon" else "minilm"
        print(json.dumps(footprint(chosen)))
    else:
        run_text_benchmark()
