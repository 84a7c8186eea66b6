"""Running ``nps-sync`` as its users do, a process of its own, and measuring that process.

Peak RSS and CPU time come from ``wait4`` on the child: its own high-water mark and its own user
and system time, not the benchmark's nor the emulators'. A run that fails still yields its
figures: the exit code, the tail of its stderr and the JSON document it printed, if any.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Where :mod:`bench.counted` writes the statement tally of the process it runs.
STATEMENTS_ENV = "NPS_SYNC_BENCH_STATEMENTS"


@dataclass
class ProcessFigures:
    """One finished ``nps-sync`` process."""

    exit_code: int
    seconds: float
    peak_mb: float
    cpu_seconds: float
    stdout: str
    stderr: str
    timed_out: bool = False
    document: dict[str, Any] = field(default_factory=dict)
    #: SQL statements sent to the state database, by kind (``bench.counted``); {} if not counted.
    statements: dict[str, int] = field(default_factory=dict)

    def failure(self, lines: int = 3) -> str:
        """What went wrong, in a few lines ("" for a clean exit)."""
        if self.exit_code == 0:
            return ""
        tail = [line for line in self.stderr.strip().splitlines() if line.strip()][-lines:]
        how = "killed after the time limit" if self.timed_out else f"exit code {self.exit_code}"
        return f"{how}: " + " | ".join(tail)


def nps_sync() -> list[str]:
    """This environment's ``nps-sync`` script (or the module, when the script is absent)."""
    script = Path(sys.executable).with_name("nps-sync")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from sync.cli import main; main()"]


def run_nps_sync(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float = 3 * 3600.0,
    count_statements: bool = False,
) -> ProcessFigures:
    """``nps-sync ARGS``; its figures once it exits (killed after ``timeout`` seconds).

    ``count_statements`` runs it under :mod:`bench.counted`, which tallies its SQL statements.
    """
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory(prefix="nps-bench-sql-") as tally,
    ):
        command = nps_sync()
        env = dict(env)
        if count_statements:
            command = [sys.executable, "-m", "bench.counted"]
            env[STATEMENTS_ENV] = str(Path(tally) / "statements.json")
        started = time.perf_counter()
        # Our own script with arguments the benchmark built: nothing untrusted is run.
        child = subprocess.Popen(  # noqa: S603
            [*command, *args], stdout=out, stderr=err, env={**os.environ, **env}, cwd=ROOT
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            child.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        figures = ProcessFigures(
            exit_code=child.returncode,
            seconds=seconds,
            peak_mb=usage.ru_maxrss / 1024,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=expired.is_set(),
        )
        figures.document = _last_json(figures.stdout)
        counted = Path(env.get(STATEMENTS_ENV, "")) if count_statements else None
        if counted is not None and counted.is_file():
            figures.statements = json.loads(counted.read_text(encoding="utf-8"))
    return figures


def _last_json(text: str) -> dict[str, Any]:
    """The JSON document printed on stdout (``--json``); {} when there is none."""
    start = text.find("{")
    if start < 0:
        return {}
    try:
        document = json.loads(text[start:])
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def write_config(directory: Path, data: Mapping[str, Any]) -> Path:
    """The config file (JSON, which YAML reads as it is)."""
    path = directory / "nps-sync.yaml"
    path.write_text(json.dumps(dict(data), indent=2), encoding="utf-8")
    return path


#: Exit code of a pass that did what it could and deferred the rest (a rate limit).
DEFERRED = 75
#: The longest a backlog run waits between passes for a deferral to end.
MAX_PAUSE = 120.0


def run_until_done(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float = 3 * 3600.0,
    count_statements: bool = False,
    max_passes: int = 10_000,
) -> tuple[ProcessFigures, int]:
    """``nps-sync ARGS --json`` pass after pass while a pass exits 75 (work deferred by a rate
    limit), each started once the deferral it printed ends; the figures of the whole backlog
    (wall time from the first start to the last exit, waits included; peak RSS the highest of
    the passes; CPU, counts, errors and statements added up) and the number of passes."""
    started = time.perf_counter()
    total: ProcessFigures | None = None
    passes = 0
    while passes < max_passes:
        left = timeout - (time.perf_counter() - started)
        figures = run_nps_sync(
            args, env=env, timeout=max(left, 1.0), count_statements=count_statements
        )
        passes += 1
        total = figures if total is None else _added(total, figures)
        if figures.exit_code != DEFERRED or figures.timed_out:
            break
        time.sleep(_pause(figures.document))
    assert total is not None
    total.seconds = time.perf_counter() - started
    return total, passes


def _pause(document: Mapping[str, Any]) -> float:
    """Seconds until the latest deferral the pass printed ends (a second if it named none)."""
    stamps = (document.get("deferred_until") or {}).values()
    ends = [datetime.fromisoformat(str(s)) for s in stamps if s]
    if not ends:
        return 1.0
    wait = (max(ends) - datetime.now(UTC)).total_seconds()
    return min(max(wait, 0.0) + 0.5, MAX_PAUSE)


def _added(before: ProcessFigures, after: ProcessFigures) -> ProcessFigures:
    document = dict(after.document)
    for key in ("pulled", "routed"):
        counts = [d.get(key) for d in (before.document, after.document)]
        document[key] = sum(c for c in counts if isinstance(c, int))
    document["errors"] = [
        *(before.document.get("errors") or []),
        *(after.document.get("errors") or []),
    ]
    statements = dict(before.statements)
    for kind, count in after.statements.items():
        statements[kind] = statements.get(kind, 0) + count
    return ProcessFigures(
        exit_code=after.exit_code,
        seconds=before.seconds + after.seconds,
        peak_mb=max(before.peak_mb, after.peak_mb),
        cpu_seconds=before.cpu_seconds + after.cpu_seconds,
        stdout=after.stdout,
        stderr=after.stderr,
        timed_out=after.timed_out,
        document=document,
        statements=statements,
    )
