"""``python -m bench.counted ARGS``: ``nps-sync ARGS`` with the state store's SQL counted.

Every statement sent to a state database (an ``executemany`` counts once: one round trip) is
counted by kind (its first words); the tally is written as JSON to the file named by
``NPS_SYNC_BENCH_STATEMENTS`` when the process exits. The benchmark runs nps-sync this way, so
nps-sync itself carries no counting code.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.measure import STATEMENTS_ENV
from sync.cli import main

_counts: Counter[str] = Counter()


@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    _counts[kind(statement)] += 1


def kind(statement: str) -> str:
    """``INSERT nps_actions``, ``UPDATE nps_responses``, ``SELECT nps_actions``, ``BEGIN``..."""
    words = statement.split()
    if not words:
        return "?"
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    for marker in ("INTO", "UPDATE", "FROM"):
        if marker in upper[: 200 if verb == "SELECT" else 4]:
            at = upper.index(marker)
            if at + 1 < len(words):
                return f"{verb} {words[at + 1].strip('()').lower()}"
    return verb


def _write() -> None:
    target = os.environ.get(STATEMENTS_ENV)
    if target:
        Path(target).write_text(json.dumps(dict(_counts)), encoding="utf-8")


if __name__ == "__main__":
    atexit.register(_write)
    main()
