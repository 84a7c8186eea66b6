"""``nps-sync text``: comment analytics from the command line.

``text analyze INPUT --taxonomy THEMES.yaml`` scores a CSV or JSONL file of comments (columns
``id`` and ``comment``; others are ignored) and writes one JSON line per comment:
``{"id": ..., "sentiment": float, "themes": [names, most confident first]}``. Bad rows are
reported on stderr with their line and skipped; the command then exits 1 after writing the rest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

if TYPE_CHECKING:
    from insights.text import LabelledComment, Taxonomy, TextAnalyzer
    from sync.ops.comment_files import Row

#: Comments analysed per call: large enough for batching, small enough for a live progress bar.
CHUNK = 256
#: Inputs with more comments than this show a progress bar (on a terminal).
LONG_INPUT = 2_000


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
    with _output(out_path) as out:
        for chunk in _chunks(rows, long=len(rows) > LONG_INPUT):
            comments = [str(r.values["comment"] or "") for r in chunk]
            for row, result in zip(chunk, analyzer.analyze(comments), strict=True):
                line = {"id": row.values["id"], "sentiment": result.sentiment}
                line["themes"] = result.theme_names
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
    skipped_text = f"{skipped:,} row{'s' if skipped != 1 else ''} skipped"
    summary = f"{len(rows):,} comments analysed with {analyzer.model_name}"
    click.echo(summary + (f"; {skipped_text}" if skipped else ""), err=True)
    if skipped:
        raise PartialFailureError(f"{skipped_text} (listed above)")


def read_taxonomy(path: Path) -> Taxonomy:
    """The checked taxonomy; a wrong file ends the command with its ``file:line:col`` list."""
    from insights.text import parse_taxonomy
    from sync.ops.comment_files import CommentFileError

    try:
        text = path.read_text(encoding="utf-8")
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
    return ""


def _comment_problem(value: object) -> str:
    return "" if value is None or isinstance(value, str) else "'comment' must be text"


@contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    if path is None:
        yield sys.stdout
        return
    with path.open("w", encoding="utf-8") as handle:
        yield handle


def _chunks(rows: Sequence[Row], *, long: bool) -> Iterator[Sequence[Row]]:
    """``rows`` in chunks, with a progress bar on stderr for long inputs."""
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True, disable=not long) as progress:
        task = progress.add_task("Analysing comments", total=len(rows))
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            yield chunk
            progress.advance(task, len(chunk))
