"""``nps-sync text``: comment analytics from the command line.

``text themes --since 30d -c CONFIG`` lists the themes of the comments the daemon analysed:
counts, the weekly trend, emerging and repeat themes, and clusters of the comments that fit no
theme (suggested new themes).

``text analyze INPUT --taxonomy THEMES.yaml`` scores a CSV or JSONL file of comments (columns
``id`` and ``comment``; others are ignored) and writes one JSON line per comment:
``{"id": ..., "sentiment": float, "themes": [names, most confident first]}``. Bad rows are
reported on stderr with their line and skipped; the command then exits 1 after writing the rest.
A comment is read up to 32,000 characters, as much as the daemon stores of one.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from sync.commands.output import JSON_OPTION, iso
from sync.commands.run import CONFIG_OPTION, load

if TYPE_CHECKING:
    from insights.text import LabelledComment, Taxonomy, TextAnalyzer
    from insights.text.analyzer import PreparedComments
    from sync.core.config import Config
    from sync.ops.comment_files import Row
    from sync.state import StateStore

#: Comments analysed per call: large enough for batching, small enough for a live progress bar.
CHUNK = 256
#: Inputs with more comments than this show a progress bar (on a terminal).
LONG_INPUT = 2_000
#: Unthemed comments clustered by ``text themes`` (the latest ones).
UNTHEMED_LIMIT = 2_000


@click.group("text")
def text_group() -> None:
    """Comment text analytics: sentiment and themes from your taxonomy, offline."""


@text_group.command("analyze")
@click.argument(
    "input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--taxonomy",
    "taxonomy_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of themes: name, description and a few example phrases each.",
)
@click.option(
    "--train",
    "train_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV of labelled comments (columns comment, theme) to learn the themes from.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the JSON lines here instead of stdout.",
)
@click.option(
    "--model",
    type=click.Choice(["auto", "minilm", "lexicon"]),
    default="auto",
    show_default=True,
    help="minilm: the sentence-embedding model (nps-sync[text-model]); lexicon: no model; "
    "auto: the model when installed.",
)
def analyze_command(
    input_path: Path,
    taxonomy_path: Path,
    train_path: Path | None,
    out_path: Path | None,
    model: str,
) -> None:
    """Score each comment of INPUT (CSV or JSONL with id and comment) for sentiment and themes."""
    from connectors.surveys.fields import MAX_COMMENT_CHARS
    from sync.core.errors import PartialFailureError
    from sync.ops.comment_files import BadRow, read_rows

    taxonomy = read_taxonomy(taxonomy_path)
    skipped = 0
    labelled: list[LabelledComment] = []
    if train_path is not None:
        labelled, bad = read_labelled(train_path, taxonomy)
        skipped += bad
    analyzer = _analyzer(taxonomy, model, labelled)
    rows: list[Row] = []
    for found in read_rows(input_path, ("id", "comment")):
        if isinstance(found, BadRow):
            click.echo(found.describe(input_path), err=True)
            skipped += 1
            continue
        problem = _id_problem(found.values["id"]) or _comment_problem(found.values["comment"])
        if problem:
            click.echo(BadRow(found.line, problem).describe(input_path), err=True)
            skipped += 1
            continue
        rows.append(found)
    foreign = 0
    # As much of a comment as the daemon stores: the rest of a longer one is not read.
    comments = [
        _LONE_SURROGATE.sub("", str(r.values["comment"] or ""))[:MAX_COMMENT_CHARS] for r in rows
    ]
    whole = _adapt(analyzer, comments)
    with _output(out_path) as out:
        for start, chunk in _chunks(rows, long=len(rows) > LONG_INPUT):
            stop = start + len(chunk)
            prepared = whole.part(start, stop) if whole else analyzer.prepare(comments[start:stop])
            for row, result in zip(chunk, analyzer.results(prepared), strict=True):
                line = {"id": row.values["id"], "sentiment": result.sentiment}
                line["themes"] = result.theme_names
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                foreign += not result.english
    skipped_text = f"{skipped:,} row{'s' if skipped != 1 else ''} skipped"
    summary = (
        f"{len(rows):,} comment{'s' if len(rows) != 1 else ''} analysed with {analyzer.model_name}"
    )
    if foreign:
        summary += f" ({foreign:,} not in English: sentiment 0 and no theme)"
    click.echo(summary + (f"; {skipped_text}" if skipped else ""), err=True)
    if skipped:
        raise PartialFailureError(f"{skipped_text} (listed above)")


@text_group.command("themes")
@CONFIG_OPTION
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Comments answered within this window: 30d, 12w.",
)
@JSON_OPTION
def themes_command(config_path: Path, since: str, as_json: bool) -> None:
    """Themes of the analysed comments: counts, weekly trend, emerging and repeat themes this
    week, and clusters of the comments that fit no theme."""
    from rules import parse_duration
    from sync.app.runtime import open_store, require_taxonomy

    try:
        window = parse_duration(since)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    config = load(config_path)
    require_taxonomy(config)  # a missing or wrong taxonomy: one line and exit 2, not a traceback
    now = datetime.now(UTC)
    store = open_store(config, existing=True)
    try:
        summary = summarise(store, config, now, window)
    finally:
        store.close()
    if as_json:
        from sync.commands.output import emit

        emit(summary)
        return
    _print_summary(summary, since)


def summarise(
    store: StateStore, config: Config, now: datetime, window: timedelta
) -> dict[str, Any]:
    """What ``text themes`` shows, as plain data (the ``--json`` document)."""
    from insights.text.emerging import HISTORY_WEEKS, cluster_unthemed, week_of, weekly_trends
    from sync.stages.comment_text import load_comment_analysis, mentions_since

    start = now - window
    history = datetime.combine(week_of(start) - timedelta(weeks=HISTORY_WEEKS), time(), UTC)
    mentions = mentions_since(store, history)
    recent = [m for m in mentions if m.at >= start]
    weeks = sorted({week_of(m.at) for m in recent})
    counts: dict[str, int] = {}
    for mention in recent:
        for theme in mention.themes:
            counts[theme] = counts.get(theme, 0) + 1
    this_week = {t.theme: t for t in weekly_trends(mentions, week_of(now))}
    trend = {
        theme: [sum(1 for m in recent if week_of(m.at) == w and theme in m.themes) for w in weeks]
        for theme in counts
    }
    themes = [
        {
            "theme": theme,
            "comments": count,
            "weekly": trend[theme],
            "emerging": bool(this_week.get(theme) and this_week[theme].emerging),
            "repeat": bool(this_week.get(theme) and this_week[theme].repeat),
            "p_value": this_week[theme].p_value if theme in this_week else None,
        }
        for theme, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    unthemed = [r for r in store.comment_text.since(start) if not r.themes][-UNTHEMED_LIMIT:]
    comments = [
        (found.response.comment if found else "")
        for found in (store.inbox.get(r.source, r.response_id) for r in unthemed)
    ]
    analysis = load_comment_analysis(config.text)
    encoder = analysis.analyzer.encoder if analysis else None
    embeddings = encoder.encode(comments) if encoder is not None and comments else None
    clusters = cluster_unthemed(comments, embeddings)
    return {
        "since": iso(start),
        "now": iso(now),
        "comments": len(recent),
        "weeks": [w.isoformat() for w in weeks],
        "themes": themes,
        "unthemed": sum(1 for m in recent if not m.themes),
        "clusters": [{"phrases": list(c.phrases), "comments": c.size} for c in clusters],
    }


def _print_summary(summary: dict[str, Any], since: str) -> None:
    from rich import box
    from rich.console import Console

    from sync.app.tables import DataTable

    console = Console()
    table = DataTable(
        title=f"Themes of the {summary['comments']:,} comments of the last {since}",
        box=box.SIMPLE_HEAD,
    )
    for column in ("theme", "comments", "weekly, oldest first", "this week"):
        table.add_column(column, justify="right" if column == "comments" else "left")
    for row in summary["themes"]:
        flags = [name for name in ("emerging", "repeat") if row[name]]
        weekly = " ".join(str(n) for n in row["weekly"])
        table.add_row(row["theme"], f"{row['comments']:,}", weekly, ", ".join(flags))
    console.print(table)
    console.print(f"{summary['unthemed']:,} comments fit no theme.")
    for cluster in summary["clusters"]:
        phrases = ", ".join(cluster["phrases"]) or "(no telling phrase)"
        line = f"  suggested theme: {phrases} ({cluster['comments']} comments)"
        console.print(line, markup=False, highlight=False)


def read_taxonomy(path: Path) -> Taxonomy:
    """The checked taxonomy; a wrong file ends the command with its ``file:line:col`` list."""
    from insights.text import parse_taxonomy
    from sync.core.files import MAX_ADMIN_FILE, read_file_text
    from sync.ops.comment_files import CommentFileError

    try:
        text = read_file_text(path, MAX_ADMIN_FILE)
    except (OSError, UnicodeDecodeError) as error:
        raise CommentFileError(f"{path}: cannot be read ({error})") from None
    return parse_taxonomy(text, str(path))


def read_labelled(path: Path, taxonomy: Taxonomy) -> tuple[list[LabelledComment], int]:
    """Labelled comments whose theme the taxonomy names; the others are reported and counted."""
    from insights.text import LabelledComment
    from sync.ops.comment_files import BadRow, read_rows

    names = {name.casefold(): name for name in taxonomy.names}
    found: list[LabelledComment] = []
    bad = 0
    for row in read_rows(path, ("comment", "theme")):
        if isinstance(row, BadRow):
            click.echo(row.describe(path), err=True)
            bad += 1
            continue
        theme = str(row.values["theme"] or "").strip()
        if theme.casefold() not in names:
            message = f"theme {theme!r} is not in the taxonomy"
            click.echo(BadRow(row.line, message).describe(path), err=True)
            bad += 1
            continue
        found.append(LabelledComment(str(row.values["comment"] or ""), names[theme.casefold()]))
    return found, bad


def _analyzer(taxonomy: Taxonomy, model: str, labelled: Sequence[LabelledComment]) -> TextAnalyzer:
    from insights.text import MODEL_CHOICES, ModelUnavailableError, TextAnalyzer
    from sync.core.errors import ConfigFileError

    choice = next(c for c in MODEL_CHOICES if c == model)
    try:
        return TextAnalyzer(taxonomy, model=choice, labelled=labelled)
    except ModelUnavailableError as error:
        raise ConfigFileError(
            str(error), fix="pip install 'nps-sync[text-model]', or pass --model lexicon"
        ) from None


def _id_problem(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value).strip() == "":
        return "'id' must be a non-empty text or an integer"
    if isinstance(value, str) and _LONE_SURROGATE.search(value):
        return "'id' is not valid Unicode text (a lone surrogate escape)"  # cannot be written
    return ""


#: A lone surrogate, which a JSON ``\\ud800`` escape can make and no text encoding can write.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _comment_problem(value: object) -> str:
    return "" if value is None or isinstance(value, str) else "'comment' must be text"


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    from sync.core.files import failing_as, replaced_on_success

    with replaced_on_success(path) as handle, failing_as(path):  # a write failing: exit 2
        yield handle


def _adapt(analyzer: TextAnalyzer, comments: Sequence[str]) -> PreparedComments | None:
    """Show the analyzer a sample of the input (up to 1,000 comments spread evenly over it) to
    rank zero-shot themes by; every comment of a file is scored with the same correction. When
    the sample is the whole input, it is returned prepared, so nothing is embedded twice."""
    from insights.text.hubness import spread

    if not analyzer.adapts:
        return None
    positions = spread(len(comments))
    sample = analyzer.prepare([comments[i] for i in positions])
    analyzer.adapt(sample)
    return sample if len(positions) == len(comments) else None


def _chunks(rows: Sequence[Row], *, long: bool) -> Iterator[tuple[int, Sequence[Row]]]:
    """``rows`` in chunks with the position of their first, with a progress bar on stderr for
    long inputs."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True, disable=not long) as progress:
        task = progress.add_task("Analysing comments", total=len(rows))
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            yield start, chunk
            progress.advance(task, len(chunk))
