"""What ``/healthz`` and ``/readyz`` report: the process is up; the daemon can do its work.

Ready means: the state store answers now, the connectors are connected and no system refused
the last pass's credentials, and the rules are loaded. A daemon still connecting at start-up is
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
        self._lock = threading.Lock()

    def attach(self, engine: Engine) -> None:
        """The connectors are connected and the rules loaded."""
        with self._lock:
            self._engine = engine

    def observe(self, _job: str, report: RunReport) -> None:
        with self._lock:
            self._refused = dict(report.refused)

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """(ready, check -> "ok" or why not)."""
        checks: dict[str, str] = {}
        try:
            self.store.ping()
            checks["store"] = "ok"
        except Exception as exc:  # every reason the store cannot answer is "not ready"
            checks["store"] = str(exc) or type(exc).__name__
        with self._lock:
            engine, refused = self._engine, dict(self._refused)
        if engine is None:
            checks["connectors"] = "connecting"
            checks["rules"] = "not loaded yet"
        else:
            checks["connectors"] = (
                "ok" if not refused else "; ".join(f"{k}: {v}" for k, v in refused.items())
            )
            checks["rules"] = "ok"
        return all(value == "ok" for value in checks.values()), checks
