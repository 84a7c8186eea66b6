"""Peak memory of importing a large export: ``nps-sync sync`` with a file source, JSON Lines
(by size) or CSV (by lines).

The file is generated in a temporary folder from the seeded book of business: the seed's survey
responses, repeated under new ids and spread over the last year up to a month ago, until the file
reaches the size (or line count) asked for. Every response is older than the routing window, so
the sync stores, matches and counts them (history) without acting on any: the import a first run
over a survey tool's export does. The emulators run in another process, so the RSS is nps-sync's
own. A run that stops at a rate limit (exit 75: the rest waits for the next pass) still counts
for memory: the whole file was read and stored.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from bench.measure import ProcessFigures, run_nps_sync, write_config
from bench.remote import RemoteWorld, WorldSpec
from emulators.seed import generate_seed
from emulators.world import DEMO_ENV

MEMORY_TARGET_MB = 300.0
#: Distinct responses in the template the file repeats.
TEMPLATE = 5000


def _records(*, seed: int, accounts: int) -> Iterator[dict[str, Any]]:
    """The seed's responses as export records, repeated under new ids, without end."""
    book = generate_seed(seed, accounts=accounts, responses=TEMPLATE)
    newest = datetime.now(UTC) - timedelta(days=30)
    lines = 0
    while True:
        for response in book.responses:
            created = newest - timedelta(seconds=(lines * 61) % (335 * 86_400))
            yield {
                "response_id": f"{response.id}-{lines}",
                "email": response.email,
                "name": response.name,
                "score": response.score,
                "comment": response.comment,
                "created_at": created.isoformat(),
                "survey_type": "relationship",
                "channel": "email",
                "properties": response.properties,
            }
            lines += 1


def write_export(path: Path, megabytes: float, *, seed: int, accounts: int) -> int:
    """A JSONL export of at least ``megabytes``; the number of responses written."""
    target = int(megabytes * 1024 * 1024)
    written = lines = 0
    with path.open("w", encoding="utf-8") as out:
        for record in _records(seed=seed, accounts=accounts):
            line = json.dumps(record)
            out.write(line + "\n")
            written += len(line) + 1
            lines += 1
            if written >= target:
                break
    return lines


#: The CSV export's columns: the fields, then the seed's properties as ``property:`` columns.
CSV_FIELDS = ("response_id", "email", "name", "score", "comment", "created_at", "survey_type")
CSV_PROPERTIES = ("plan", "Salesforce Contact Id")


def write_csv_export(path: Path, rows: int, *, seed: int, accounts: int) -> int:
    """A CSV export of ``rows`` responses (a header line, then one line each); ``rows``."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([*CSV_FIELDS, *(f"property:{name}" for name in CSV_PROPERTIES)])
        for count, record in enumerate(_records(seed=seed, accounts=accounts)):
            if count >= rows:
                break
            properties = record["properties"]
            writer.writerow(
                [record[name] for name in CSV_FIELDS]
                + [properties.get(name, "") for name in CSV_PROPERTIES]
            )
    return rows


@dataclass
class ImportRun:
    megabytes: float
    responses: int
    process: ProcessFigures
    kind: str = "JSONL"


def jsonl_import(megabytes: float, *, accounts: int = 300, seed: int = 7) -> ImportRun:
    """Generate the JSONL export, import it with one ``nps-sync sync``, measure that process."""
    with tempfile.TemporaryDirectory(prefix="nps-bench-jsonl-") as tmp:
        export = Path(tmp) / "export.jsonl"
        responses = write_export(export, megabytes, seed=seed, accounts=accounts)
        return _import(export, responses, "JSONL", accounts=accounts, seed=seed)


def csv_import(rows: int, *, accounts: int = 300, seed: int = 7) -> ImportRun:
    """Generate a CSV export of ``rows`` lines, import it with one ``nps-sync sync``."""
    with tempfile.TemporaryDirectory(prefix="nps-bench-csv-") as tmp:
        export = Path(tmp) / "export.csv"
        responses = write_csv_export(export, rows, seed=seed, accounts=accounts)
        return _import(export, responses, "CSV", accounts=accounts, seed=seed)


def _import(export: Path, responses: int, kind: str, *, accounts: int, seed: int) -> ImportRun:
    """One ``nps-sync sync`` of ``export`` (in its folder) against emulators of their own."""
    spec = WorldSpec(responses=0, accounts=accounts, seed=seed, delighted=False)
    tmp = export.parent
    size = export.stat().st_size / 1024 / 1024
    with RemoteWorld(spec) as world:
        data = dict(world.config)
        data["state"] = {"url": f"sqlite:///{tmp}/state.db"}
        data["sources"] = [{"type": "file", "name": "export", "path": str(export)}]
        config = write_config(tmp, data)
        process = run_nps_sync(["sync", "--json", "-c", str(config)], env=DEMO_ENV)
    return ImportRun(size, responses, process, kind)


def run_jsonl_benchmark(megabytes: float) -> ImportRun:
    console = Console()
    console.print(f"import of a {megabytes:.0f} MB JSONL export...", style="dim")
    run = jsonl_import(megabytes)
    _print_import(run, console)
    return run


def run_csv_benchmark(rows: int) -> ImportRun:
    console = Console()
    console.print(f"import of a {rows:,}-line CSV export...", style="dim")
    run = csv_import(rows)
    _print_import(run, console)
    return run


def _print_import(run: ImportRun, console: Console) -> None:
    """The import's row: memory against the target (exit 75, deferred work, still counts)."""
    doc, process = run.process.document, run.process
    verdict = process.exit_code in (0, 75) and process.peak_mb <= MEMORY_TARGET_MB
    console.print(
        f"{run.kind} import of {run.megabytes:.0f} MB ({run.responses:,} responses, history): "
        f"exit {process.exit_code}, pulled {doc.get('pulled', '?')}, "
        f"routed {doc.get('routed', '?')}, {process.seconds:.0f} s, "
        f"CPU {1000 * process.cpu_seconds / max(run.responses, 1):.2f} ms/response, "
        f"peak RSS {process.peak_mb:.0f} MB (target <= {MEMORY_TARGET_MB:.0f}): "
        + ("[green]met[/]" if verdict else "[red]NOT MET[/]")
    )
    if process.exit_code:
        console.print(f"[red]{escape(process.failure())}[/]", highlight=False)
