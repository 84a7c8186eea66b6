"""Helpers every test folder may use: one polling policy, and inputs that CI must have."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
    wait_fixed,
)
from tenacity.stop import stop_base

from emulators.base import Reset
from emulators.seed import REFERENCE_END

T = TypeVar("T")


def acting_on_the_seeded_year() -> dict[str, str]:
    """A ``routing`` config section under which every response of a seeded world is acted on.

    Seeded worlds hold a year of answers ending at a fixed date (``REFERENCE_END``) or a day or
    two before now. Tests of the whole loop treat every one of them as news, so they give their
    config a window reaching back past the oldest; the window itself is tested on worlds whose
    year ends today (``tests/e2e/test_e2e_first_run.py``).
    """
    now = datetime.now(UTC)
    oldest = min(REFERENCE_END - timedelta(days=365), now - timedelta(days=370))
    return {"act_on_responses_newer_than": f"{(now - oldest).days + 1}d"}


def poll(
    attempt: Callable[[], T],
    *,
    until: Callable[[T], object] = bool,
    timeout: float | None = None,
    attempts: int | None = None,
    interval: float = 0.1,
) -> T:
    """Call ``attempt`` until ``until(result)`` holds, ``interval`` seconds apart, for at most
    ``timeout`` seconds or ``attempts`` calls; return the last result either way (the caller
    asserts on it, so a failure shows what was last seen). Exceptions are not retried."""
    stops: list[stop_base] = []
    if timeout is not None:
        stops.append(stop_after_delay(timeout))
    if attempts is not None:
        stops.append(stop_after_attempt(attempts))
    if not stops:
        raise ValueError("poll needs a timeout or a number of attempts")

    def last_result(state: RetryCallState) -> T:
        assert state.outcome is not None
        result: T = state.outcome.result()
        return result

    retrying = Retrying(
        stop=stop_any(*stops),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda result: not until(result)),
        retry_error_callback=last_result,
        reraise=True,
    )
    return retrying(attempt)


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """True as soon as ``condition()`` is true, False if it is still false after ``timeout``."""
    return bool(poll(condition, timeout=timeout, interval=interval))


def nps_sync_command() -> list[str]:
    """The installed ``nps-sync`` script of this interpreter's environment."""
    script = Path(sys.executable).with_name("nps-sync")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from sync.cli import main; main()"]


def run_cli(
    *args: str | Path, env: Mapping[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """``nps-sync ARGS`` in a subprocess, stdout piped (not a terminal) and kept apart from
    stderr, with this environment (the emulators' secrets are in it) plus ``env``."""
    return subprocess.run(  # noqa: S603 - our own CLI with arguments from the test
        [*nps_sync_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def require(path: Path, what: str) -> Path:
    """``path`` for a test that needs it. When it is missing the test is skipped on a developer's
    machine, but fails under CI (``CI`` set), where a skip would hide that nothing was checked."""
    if path.exists():
        return path
    message = f"{what} not found at {path}"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run these tests", pytrace=False)
    pytest.skip(message)


class QueryCutter:
    """An emulator observer that cuts off every ``every``-th REST query as it arrives (the
    connection reset, no answer): a flaky link for reads of many queries."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.queries = 0

    def __call__(self, endpoint: str, phase: str) -> None:
        if endpoint == "query" and phase == "received":
            self.queries += 1
            if self.queries % self.every == 0:
                raise Reset


#: Sockets held for the whole run (:func:`closed_port`, :func:`dropping_port`).
_HELD_PORTS: list[socket.socket] = []


def closed_port() -> int:
    """A loopback port that refuses connections: bound but never listening, and held until the
    run ends, so no other test's server (another worker's emulator) can take it meanwhile, as
    it could a port merely found free and released."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _HELD_PORTS.append(held)
    return int(held.getsockname()[1])


def dropping_port() -> int:
    """A loopback port where connection attempts neither succeed nor fail: they time out, as to
    a host behind a firewall that drops them. It listens with no room in its queue, which one
    connection never accepted fills; held, with that connection, until the run ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    filler = socket.create_connection(("127.0.0.1", port))
    _HELD_PORTS.extend((listener, filler))
    return port
