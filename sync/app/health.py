"""What ``/healthz`` and ``/readyz`` report: the process is up; the daemon can do its work.

Ready means: the state store answers now and the last pass did not fail on it (a full disk
still answers reads), the connectors are connected and no system refused the last pass's
credentials, and the rules are loaded. A daemon still connecting at start-up is
live (it already takes webhooks into the store) but not ready.
"""

from __future__ import annotations

import threading

from sync.app.engine import Engine, RunReport
from sync.state import StateStore


class Health:
    """Readiness of one daemon; the scheduler reports each pass to :meth:`observe`."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._engine: Engine | None = None
        self._refused: dict[str, str] = {}
        #: Why the last pass failed on the state store ("" once a pass completes again).
        self._store_failure = ""
        self._lock = threading.Lock()

    def attach(self, engine: Engine) -> None:
        """The connectors are connected and the rules loaded."""
        with self._lock:
            self._engine = engine

    def observe(self, _job: str, report: RunReport) -> None:
        with self._lock:
            self._refused = dict(report.refused)
            self._store_failure = ""

    def store_failed(self, job: str, error: Exception) -> None:
        """A pass failed on the state store (the scheduler's ``on_state_error``)."""
        with self._lock:
            self._store_failure = f"the last {job} failed: {error}"

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """(ready, check -> "ok" or why not)."""
        checks: dict[str, str] = {}
        with self._lock:
            engine, refused, failure = self._engine, dict(self._refused), self._store_failure
        try:
            self.store.ping()
            checks["store"] = failure or "ok"
        except Exception as exc:  # every reason the store cannot answer is "not ready"
            checks["store"] = str(exc) or type(exc).__name__
        if engine is None:
            checks["connectors"] = "connecting"
            checks["rules"] = "not loaded yet"
        else:
            checks["connectors"] = (
                "ok" if not refused else "; ".join(f"{k}: {v}" for k, v in refused.items())
            )
            checks["rules"] = "ok"
        return all(value == "ok" for value in checks.values()), checks
