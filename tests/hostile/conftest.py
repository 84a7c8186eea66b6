"""The hostile-input suite: CLI runs measured for wall time and peak memory, one child at a time.

Each case runs ``nps-sync`` as a subprocess and is held to a ceiling of CPU seconds and megabytes
(the child's own user + system time from ``wait4``, so other work on the machine does not count;
the child's own peak RSS: ``VmHWM`` of ``/proc/PID/status``, sampled every 20 ms; ``ru_maxrss``
would count the test process the child was forked from), so a change that lets a hostile record
or file cost unbounded time or memory fails here, not in production. A child that hangs without
spending CPU is killed at a wall-clock timeout.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import nps_sync_command


@dataclass(frozen=True)
class Measured:
    """One CLI run: exit code, everything it printed, CPU seconds and peak RSS in MB."""

    code: int
    output: str
    seconds: float
    megabytes: float

    def within(self, seconds: float, megabytes: float) -> bool:
        return self.seconds <= seconds and self.megabytes <= megabytes


def run_measured(*args: str, timeout: float = 120.0) -> Measured:
    """Run ``nps-sync ARGS``; killed after ``timeout`` seconds (then the code is negative)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as sink:
        started = time.monotonic()
        child = subprocess.Popen(  # noqa: S603 - our own CLI with arguments from the test
            [*nps_sync_command(), *args], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _high_water_kb(child.pid))
            if time.monotonic() - started > timeout:
                child.kill()
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                child.returncode = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.02)
        cpu = usage.ru_utime + usage.ru_stime
        sink.seek(0)
        output = sink.read().decode("utf-8", "replace")
    return Measured(child.returncode, output, round(cpu, 2), round(peak_kb / 1024, 1))


def _high_water_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def no_crash(result: Measured) -> None:
    """No traceback, no kill: every hostile input ends in a reason, never a crash."""
    assert "Traceback" not in result.output, result.output[-3000:]
    assert result.code >= 0, f"killed after {result.seconds} CPU seconds"


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path
