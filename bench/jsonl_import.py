"""Peak memory of importing a large JSON Lines export: ``nps-sync sync`` with a file source.

The file is generated in a temporary folder from the seeded book of business: the seed's survey
responses, repeated under new ids and spread over the last year up to a month ago, until the file
reaches the size asked for. Every response is older than the routing window, so the sync stores,
matches and counts them (history) without acting on any: the import a first run over a survey
tool's export does. The emulators run in another process, so the RSS is nps-sync's own.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from bench.measure import ProcessFigures, run_nps_sync, write_config
from bench.remote import RemoteWorld, WorldSpec
from emulators.seed import generate_seed
from emulators.world import DEMO_ENV

MEMORY_TARGET_MB = 300.0
#: Distinct responses in the template the file repeats.
TEMPLATE = 5000


def write_export(path: Path, megabytes: float, *, seed: int, accounts: int) -> int:
    """A JSONL export of at least ``megabytes``; the number of responses written."""
    book = generate_seed(seed, accounts=accounts, responses=TEMPLATE)
    newest = datetime.now(UTC) - timedelta(days=30)
    target = int(megabytes * 1024 * 1024)
    written = lines = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            for response in book.responses:
                created = newest - timedelta(seconds=(lines * 61) % (335 * 86_400))
                line = json.dumps(
                    {
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
                )
                out.write(line + "\n")
                written += len(line) + 1
                lines += 1
                if written >= target:
                    break
    return lines


@dataclass
class ImportRun:
    megabytes: float
    responses: int
    process: ProcessFigures


def jsonl_import(megabytes: float, *, accounts: int = 300, seed: int = 7) -> ImportRun:
    """Generate the export, import it with one ``nps-sync sync``, measure that process."""
    spec = WorldSpec(responses=0, accounts=accounts, seed=seed, delighted=False)
    with tempfile.TemporaryDirectory(prefix="nps-bench-jsonl-") as tmp:
        export = Path(tmp) / "export.jsonl"
        responses = write_export(export, megabytes, seed=seed, accounts=accounts)
        size = export.stat().st_size / 1024 / 1024
        with RemoteWorld(spec) as world:
            data = dict(world.config)
            data["state"] = {"url": f"sqlite:///{tmp}/state.db"}
            data["sources"] = [{"type": "file", "name": "export", "path": str(export)}]
            config = write_config(Path(tmp), data)
            process = run_nps_sync(["sync", "--json", "-c", str(config)], env=DEMO_ENV)
    return ImportRun(size, responses, process)


def run_jsonl_benchmark(megabytes: float) -> ImportRun:
    console = Console()
    console.print(f"import of a {megabytes:.0f} MB JSONL export...", style="dim")
    run = jsonl_import(megabytes)
    doc, process = run.process.document, run.process
    verdict = process.exit_code == 0 and process.peak_mb <= MEMORY_TARGET_MB
    console.print(
        f"JSONL import of {run.megabytes:.0f} MB ({run.responses:,} responses, history): "
        f"exit {process.exit_code}, pulled {doc.get('pulled', '?')}, "
        f"routed {doc.get('routed', '?')}, {process.seconds:.0f} s, "
        f"CPU {1000 * process.cpu_seconds / max(run.responses, 1):.2f} ms/response, "
        f"peak RSS {process.peak_mb:.0f} MB (target <= {MEMORY_TARGET_MB:.0f}): "
        + ("[green]met[/]" if verdict else "[red]NOT MET[/]")
    )
    if process.exit_code:
        console.print(f"[red]{escape(process.failure())}[/]", highlight=False)
    return run
