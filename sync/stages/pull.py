"""Pull stage: read new and updated responses from every source into the inbox.

Each page is stored together with the cursor that follows it, in one transaction, so a crash
never loses a response nor skips one: the next run resumes from the last stored cursor (inclusive;
the inbox drops versions it already has). Cursors never pass the run's start time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from connectors.errors import ConfigError, ConnectorError, DeferError, RetryableError
from connectors.surveys import SourcePage, SurveySource, close_pages
from sync.core.retry import RetryPolicy
from sync.core.throttle import OUTAGE_LINES
from sync.state import StateStore

log = logging.getLogger(__name__)


#: Source problems a pass lists at most (each is logged and stored); the count goes on. A file
#: of bad lines must not make a pass hold one string per line.
LISTED_PROBLEMS = 1000


@dataclass
class PullStats:
    #: New or changed responses; a response read again unchanged (the cursor is inclusive, a
    #: file is re-read whole) is counted in ``unchanged`` only.
    pulled: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: The first :data:`LISTED_PROBLEMS` source problems; ``problem_count`` counts them all.
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    errors: list[str] = field(default_factory=list)
    #: Sources that asked us to wait (a rate limit); they resume from their cursor next pass.
    deferred: list[DeferError] = field(default_factory=list)
    #: Per source: how its poll ended (``ok``, ``error``, ``deferred``) and what it pulled.
    polls: dict[str, str] = field(default_factory=dict)
    pulled_by_source: dict[str, int] = field(default_factory=dict)
    #: A source could not be read past its retries (unreachable, failing for now): the pass
    #: reports the system unavailable (exit 75), as for Salesforce or Zendesk.
    unavailable: bool = False


def retired_sources(store: StateStore, sources: Sequence[SurveySource]) -> list[str]:
    """The names sources were read under that the config no longer has."""
    configured = {s.name for s in sources}
    return sorted(name for name in store.cursors.all() if name not in configured)


def refuse_renamed(store: StateStore, name: str, page: SourcePage, retired: Sequence[str]) -> None:
    """Raise a configuration error when the page's responses are stored under a ``retired``
    source name: responses and their actions are keyed by the source's name, so a renamed
    source would have every recent response acted on again."""
    ids = [r.response_id for r in page.responses]
    held = store.inbox.held_elsewhere(ids, retired) if ids and retired else {}
    if held:
        old, count = max(held.items(), key=lambda item: item[1])
        raise ConfigError(
            f"{count} of the responses read are stored under the source name {old!r}, which "
            f"the config no longer has: a source's name keys its responses and actions, so "
            f"under the name {name!r} they would be acted on again; put the name back "
            f"(sources: name: {old})",
            system=name,
        )


def pull(
    store: StateStore,
    sources: Sequence[SurveySource],
    *,
    run_start: datetime,
    now: datetime,
    retry: RetryPolicy,
    should_stop: Callable[[], bool] = lambda: False,
) -> PullStats:
    """Pull every source; a failing source is reported and the others still run.

    A source that asks us to wait (a rate limit longer than a retry waits) is left at its cursor
    and listed in ``deferred``.

    Transient errors are retried in place (sources keep their iterator usable after one); a source
    that still fails keeps the cursor of its last stored page, so the next run resumes there. A
    stop request is honoured between pages.
    """
    stats = PullStats()
    retired: list[str] | None = None  # looked up once, when a source is read the first time
    for source in sources:
        stats.polls[source.name] = "ok"
        stats.pulled_by_source.setdefault(source.name, 0)
        pages: Iterator[SourcePage] | None = None
        try:
            cursor = store.cursors.get(source.name)
            pages = source.pages(cursor, until=run_start)
            while (
                not should_stop() and (page := retry.call(partial(next, pages, None))) is not None
            ):
                if cursor is None:  # never read before: is it a source under a new name?
                    if retired is None:
                        retired = retired_sources(store, sources)
                    refuse_renamed(store, source.name, page, retired)
                result = store.inbox.ingest_page(
                    source.name, page.responses, page.cursor, now, problems=page.problems
                )
                stats.pulled += result.new + result.updated
                stats.pulled_by_source[source.name] += result.new + result.updated
                stats.new += result.new
                stats.updated += result.updated
                stats.unchanged += result.unchanged
                for warning in page.warnings:
                    log.warning("%s", warning, extra={"source": warning.source})
                for rid, dated, stored in result.older:
                    log.warning(
                        "%s response %r differs from the version stored but is dated before it "
                        "(%s < %s): the stored version stays",
                        source.name,
                        rid[:80],
                        dated.isoformat(),
                        stored.isoformat(),
                        extra={"source": source.name},
                    )
                for problem in result.new_problems:
                    log.warning("skipped %s", problem, extra={"source": problem.source})
                if again := len(page.problems) - len(result.new_problems):
                    log.info(
                        "%s: %d record(s) rejected before were read again and skipped again "
                        "(nps-sync rejected lists them)",
                        source.name,
                        again,
                        extra={"source": source.name},
                    )
                for problem in page.problems:
                    if problem.whole_file:  # nothing of the file was read: an error too
                        stats.polls[source.name] = "error"
                        stats.errors.append(f"{source.name}: {problem} (the file was not read)")
                    if len(stats.problems) < LISTED_PROBLEMS:
                        stats.problems.append(str(problem))
                stats.problem_count += len(page.problems)
        except DeferError as exc:  # not an error: the next pass resumes from the cursor
            stats.deferred.append(exc)
            stats.polls[source.name] = "deferred"
        except ConnectorError as exc:
            stats.polls[source.name] = "error"
            OUTAGE_LINES.log(
                log,
                logging.ERROR,
                f"source:{source.name}",
                "source %s failed: %s",
                source.name,
                exc,
                extra={"source": source.name},
            )
            # the source's own errors name it already ("delighted: cannot connect ...")
            named = exc.system == source.name
            stats.errors.append(str(exc) if named else f"{source.name}: {exc}")
            stats.unavailable = stats.unavailable or isinstance(exc, RetryableError)
        finally:
            close_pages(pages)
    return stats
