"""Steady random faults: a fraction of the requests to each emulator fail as the real APIs fail.

``nps-sync sandbox --faults RATE`` uses this to show what the daemon does on a bad day (nothing
lost, nothing made twice) through the real clients. Each emulator gets one :class:`Fault` per kind
it may fail with, their rates worked out so that, drawn one after the other by
:meth:`EmulatorApp.pick_fault`, every kind fails an equal share of the requests and together they
fail ``RATE`` of them. The kinds are the ones each API is known for:

- ``429`` with a short ``Retry-After`` (Zendesk, Delighted and Typeform throttle this way;
  Salesforce does not, it refuses a spent allowance with a 403 that is no transient fault);
- ``500`` and ``503``;
- ``reset``: the connection drops before the request takes effect;
- ``late``: the request takes effect, then the connection drops before the answer: a write the
  client cannot know it made.

Logins are spared: a failed login ends a pass before any work starts, which shows nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from emulators.base import EmulatorApp, Fault

#: Seconds a ``late`` fault keeps the connection open after the request took effect.
LATE_SECONDS = 0.5
#: Endpoints never failed: Salesforce's logins (the other emulators have none).
SPARED = "^(?!login_)"


def _throttled(retry_after: int) -> Fault:
    return Fault("429", retry_after=retry_after)


#: The kinds each emulator fails with, by its ``system`` name.
KINDS: Mapping[str, Sequence[Fault]] = {
    "salesforce": (Fault("500"), Fault("503"), Fault("reset"), Fault("late")),
    "zendesk": (
        _throttled(2),
        Fault("500"),
        Fault("503", retry_after=1),
        Fault("reset"),
        Fault("late"),
    ),
    "delighted": (_throttled(1), Fault("500"), Fault("503"), Fault("reset"), Fault("late")),
    "typeform": (_throttled(1), Fault("500"), Fault("503"), Fault("reset"), Fault("late")),
}


def steady_faults(system: str, rate: float) -> list[Fault]:
    """The faults that fail ``rate`` of the requests to ``system``, each kind an equal share.

    Faults are drawn in order and the first that fires wins, so the k-th (from 0) of n kinds
    fires with ``(rate / n) / (1 - k * rate / n)``: each kind then fails ``rate / n`` of all the
    requests. A rate of 0 gives none.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a fault rate is a fraction from 0 to 1, not {rate}")
    if rate == 0.0:
        return []
    kinds = KINDS[system]
    share = rate / len(kinds)
    return [
        Fault(
            kind.kind,
            rate=min(1.0, share / (1.0 - k * share)),
            endpoint=SPARED,
            retry_after=kind.retry_after,
            hang_seconds=LATE_SECONDS,
        )
        for k, kind in enumerate(kinds)
    ]


def inject_steady_faults(apps: Sequence[EmulatorApp], rate: float, seed: int) -> None:
    """Fail ``rate`` of the requests to each of ``apps`` from now on, drawn from ``seed`` (each
    app from its own generator, so one app's traffic does not change another's draws)."""
    for offset, app in enumerate(apps):
        app.seed_faults(seed + offset)
        for fault in steady_faults(app.system, rate):
            app.inject(fault)


def faults_served(app: EmulatorApp) -> Counter[str]:
    """The faults ``app`` has injected so far, by kind."""
    with app.lock:
        return Counter(kind for _, kind in app.fault_log)
