"""What each comment says, as routing fields: ``sentiment``, ``themes`` (and ``emerging``).

Computed once per response version by the analyzer the ``text:`` config section chooses, and
stored (:mod:`sync.state.comment_text`); routing the same version again, an escalation, or
``rules explain`` reads the stored result. A changed taxonomy or model has another fingerprint,
so the versions routed after the change are analysed again.

Zero-shot themes are ranked with a hub correction measured on the first comments analysed with
this taxonomy and model, the batch at hand included (:mod:`insights.text.hubness`): none until
50 have been seen, then fixed once 1,000 have. The measurement is stored
(:mod:`sync.state.hub_correction`), so a restarted daemon carries on from it, or uses the
finished one, rather than starting over; while it is incomplete each batch first takes up what
other daemons on the same store have measured further. The themes of the versions analysed
before it was complete were chosen with what was known then, and stay stored as they were.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sync.core.files import MAX_ADMIN_FILE, read_file_text
from sync.state import StateStore, StoredResponse
from sync.state.comment_text import CommentText, VersionKey
from sync.state.hub_correction import StoredHubSample

if TYPE_CHECKING:
    from insights.text import TextAnalyzer
    from insights.text.analyzer import PreparedComments
    from insights.text.emerging import Mention
    from sync.core.config.model import TextConfig

log = logging.getLogger(__name__)

#: Highest score of a detractor, for repeat themes.
DETRACTOR_MAX = 6
#: (source, response id) -> the text fields of its routed version.
TextFields = Mapping[tuple[str, str], Mapping[str, object]]


@dataclass(frozen=True)
class CommentAnalysis:
    """The analyzer in force and the fingerprint of its taxonomy and model."""

    analyzer: TextAnalyzer
    fingerprint: str


def load_comment_analysis(config: TextConfig) -> CommentAnalysis | None:
    """The analysis the config asks for; None when text analytics are off. A wrong taxonomy
    raises :class:`~insights.text.TaxonomyError` (exit 2, ``file:line:col``)."""
    if not config.enabled or config.taxonomy is None:
        return None
    from insights.text import TextAnalyzer, parse_taxonomy

    path = Path(config.taxonomy)
    text = read_file_text(path, MAX_ADMIN_FILE)
    analyzer = TextAnalyzer(parse_taxonomy(text, str(path)), model=config.model)
    digest = hashlib.sha256(f"{analyzer.model_name}\n{text}".encode()).hexdigest()[:16]
    log.info("comment analytics with %s, taxonomy %s", analyzer.model_name, path)
    return CommentAnalysis(analyzer, digest)


def _key(stored: StoredResponse) -> VersionKey:
    r = stored.response
    return (r.source, r.response_id, stored.version)


def analyse_batch(
    store: StateStore, analysis: CommentAnalysis, batch: Sequence[StoredResponse], now: datetime
) -> dict[tuple[str, str], dict[str, object]]:
    """The text fields of each response of the batch that has a comment (a response without one
    has none: ``sentiment`` and ``themes`` are missing, not neutral), analysing only the versions
    not yet stored."""
    written = [s for s in batch if s.response.comment.strip()]
    known = store.comment_text.get([_key(s) for s in written], analysis.fingerprint)
    missing = [s for s in written if _key(s) not in known]
    if missing:
        prepared = analysis.analyzer.prepare([s.response.comment for s in missing])
        adapt(store, analysis, prepared, now)
        results = analysis.analyzer.results(prepared)
        fresh = [
            CommentText(
                s.response.source,
                s.response.response_id,
                s.version,
                analysis.fingerprint,
                result.sentiment,
                tuple(result.theme_names),
                s.response.created_at,
                s.response.score,
            )
            for s, result in zip(missing, results, strict=True)
        ]
        store.comment_text.save(fresh, now)
        known.update((r.key, r) for r in fresh)
    emerging = emerging_now(store, now, analysis.fingerprint)
    return {
        key[:2]: {**fields_of(result), "emerging": [t for t in result.themes if t in emerging]}
        for key, result in known.items()
    }


def adapt(
    store: StateStore, analysis: CommentAnalysis, prepared: PreparedComments, now: datetime
) -> None:
    """Let the hub correction learn from these comments, carrying on from the measurement stored
    for this analysis when it has got further, and store how far it has got."""
    analyzer = analysis.analyzer
    before = analyzer.hub_sample
    if before is None or before.complete:
        return
    stored = store.hub_corrections.get(analysis.fingerprint)
    if stored is not None and stored.seen > before.seen:
        _resume(analysis, stored)
    analyzer.adapt(prepared)
    after = analyzer.hub_sample
    if after is None or after.seen <= max(before.seen, stored.seen if stored else 0):
        return
    mine = StoredHubSample(
        analysis.fingerprint, after.seen, tuple(tuple(map(float, r)) for r in after.top)
    )
    if not store.hub_corrections.save(mine, now) and after.complete:
        # another daemon completed it first: rank as it does
        winner = store.hub_corrections.get(analysis.fingerprint)
        if winner is not None:
            _resume(analysis, winner)


def _resume(analysis: CommentAnalysis, stored: StoredHubSample) -> None:
    import numpy as np

    from insights.text.hubness import HubSample

    try:
        top = np.array(stored.top, dtype=np.float32).reshape(len(stored.top), -1)
        analysis.analyzer.resume_hubs(HubSample(stored.seen, top))
    except ValueError:
        log.warning("stored hub correction does not fit the taxonomy; measuring afresh")


def mentions_since(
    store: StateStore, start: datetime, analysis: str | None = None
) -> list[Mention]:
    """The analysed comments submitted from ``start`` on, as the emerging tests read them."""
    from insights.text.emerging import Mention

    return [
        Mention(r.submitted_at, r.themes, detractor=r.score <= DETRACTOR_MAX)
        for r in store.comment_text.since(start, analysis)
    ]


def emerging_now(store: StateStore, now: datetime, analysis: str | None = None) -> frozenset[str]:
    """The themes emerging in the current week, against the weeks of history before it."""
    from insights.text.emerging import HISTORY_WEEKS, emerging_themes, week_of

    start = week_of(now) - timedelta(weeks=HISTORY_WEEKS)
    moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return emerging_themes(mentions_since(store, moment, analysis), week_of(now))


def stored_fields(
    store: StateStore, batch: Sequence[StoredResponse]
) -> dict[tuple[str, str], dict[str, object]]:
    """The text fields stored for the batch's versions (by any analysis), without analysing."""
    found = store.comment_text.get([_key(s) for s in batch], None)
    return {key[:2]: fields_of(result) for key, result in found.items()}


def fields_of(result: CommentText) -> dict[str, object]:
    """The routing fields of one stored result."""
    themes = list(result.themes)
    return {
        "sentiment": result.sentiment,
        "themes": themes,
        "labels.theme": themes[0] if themes else None,
    }


def theme_tags(themes: object) -> list[str]:
    """Zendesk tags for a comment's themes: ``theme_`` and the name, lower-case, words joined by
    underscores (Zendesk splits tags on spaces)."""
    if not isinstance(themes, Iterable) or isinstance(themes, str):
        return []
    tags = (
        "theme_" + re.sub(r"[^0-9a-z]+", "_", str(name).casefold()).strip("_") for name in themes
    )
    return list(dict.fromkeys(tag for tag in tags if tag != "theme_"))
