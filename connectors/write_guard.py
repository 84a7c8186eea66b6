"""A check that runs immediately before every request that may change a remote system.

The caller that owns a piece of work (the engine, holding a lease on it) installs the check for
the duration of the work with :func:`guarding_writes`; the HTTP adapters of every connector
session call :func:`before_write` before each request whose method is not a read. The check
raises to stop the request from being sent. Outside :func:`guarding_writes` nothing is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: Methods that never change anything on the server.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_check: ContextVar[Callable[[], None] | None] = ContextVar("write_check", default=None)


@contextmanager
def guarding_writes(check: Callable[[], None]) -> Iterator[None]:
    """Run ``check`` before every write request made in this context (this thread)."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def before_write(method: str | None) -> None:
    """Called by the transport before sending a request; runs the installed check for writes."""
    check = _check.get()
    if check is not None and (method or "GET").upper() not in READ_METHODS:
        check()
