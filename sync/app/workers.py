"""Who a worker is, and whether a worker of this machine has died.

A worker's id is ``host~space:pid:thread``. Leases and runs carry it, so that a worker can free
at once what a crashed one of the same process space left (instead of waiting out its leases)
and mark its runs interrupted. The space is the machine's boot and the PID namespace: containers
that share a hostname (host networking, a fixed ``hostname:``) see different processes under the
same numbers, and each would otherwise take the other's live workers for dead ones and free
leases still in use.
"""

from __future__ import annotations

import os
import socket
import threading
from functools import cache
from pathlib import Path

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE = "/proc/self/ns/pid"


def worker_id() -> str:
    """``host~space:pid:thread``: unique per worker, and tells whether a local owner has died."""
    return f"{_host()}:{os.getpid()}:{threading.get_ident()}"


def dead_local_owner(owner: str) -> bool:
    """True for an owner in this machine's process space whose process no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != _host() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def shown_owner(owner: str) -> str:
    """An owner as ``host:pid`` for people (``status --json`` keeps it whole)."""
    host, _, rest = owner.partition(":")
    return f"{host.partition('~')[0]}:{rest.partition(':')[0]}" if rest else owner


def _host() -> str:
    # Cut so that an owner always fits its column (48 + space + pid + thread id stays under 100).
    return f"{socket.gethostname()[:48]}~{process_space()}"


@cache
def process_space() -> str:
    """Which processes this one can see: the first hex digits of the boot id and the PID
    namespace's inode ("0" for what the system does not tell)."""
    try:
        boot = BOOT_ID.read_text(encoding="ascii").strip().replace("-", "")[:8] or "0"
    except OSError:
        boot = "0"
    try:
        namespace = os.readlink(PID_NAMESPACE).partition("[")[2].rstrip("]") or "0"
    except OSError:
        namespace = "0"
    return f"{boot}.{namespace}"
