"""A worker frees the leases of a crashed one of its own process space only: a live worker in
another PID namespace under the same hostname (containers on host networking) is left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from sync.app.workers import dead_local_owner, process_space, shown_owner, worker_id


def ended_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_worker_id_names_the_host_the_process_space_the_pid_and_the_thread() -> None:
    host, pid, thread = worker_id().split(":")
    assert host == f"{socket.gethostname()[:48]}~{process_space()}"
    assert int(pid) == os.getpid()
    assert thread.isdigit()
    assert len(worker_id()) < 100


@pytest.mark.parametrize(
    ("owner", "dead"),
    [
        pytest.param("{space}:{ended}:1", True, id="crashed worker of this process space"),
        pytest.param("{space}:{me}:1", False, id="this process"),
        pytest.param("{space}:{parent}:1", False, id="a live worker"),
        pytest.param("{other}:{ended}:1", False, id="same hostname, another PID namespace"),
        pytest.param("{hostname}:{ended}:1", False, id="an owner id without a process space"),
        pytest.param("elsewhere~1.2:{ended}:1", False, id="another machine"),
        pytest.param("{space}:notapid:1", False, id="not an owner id"),
    ],
)
def test_only_a_dead_worker_of_this_process_space_counts_as_crashed(owner: str, dead: bool) -> None:
    hostname = socket.gethostname()[:48]
    space = f"{hostname}~{process_space()}"
    other = f"{hostname}~{process_space().partition('.')[0]}.4026000000"
    filled = owner.format(
        space=space,
        other=other,
        hostname=hostname,
        ended=ended_pid(),
        me=os.getpid(),
        parent=os.getppid(),
    )
    assert dead_local_owner(filled) is dead


def test_status_shows_an_owner_as_host_and_pid() -> None:
    assert shown_owner("vm~1a2b3c4d.4026531836:7085:140000000000") == "vm:7085"
    assert shown_owner("lease-holder") == "lease-holder"


def test_a_worker_in_another_pid_namespace_is_never_taken_for_one_of_ours() -> None:
    """What two containers sharing a hostname see: the same hostname, pids from their own
    namespaces. The other one's owner id differs from ours, so none of its leases is freed."""
    code = "from sync.app.workers import worker_id; print(worker_id())"
    try:
        ran = subprocess.run(  # noqa: S603
            ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no new PID namespace here: {exc}")
    theirs = ran.stdout.strip()
    assert theirs.split(":")[1] == "1"  # the first process of its namespace
    assert theirs.split(":")[0].partition("~")[0] == socket.gethostname()[:48]
    assert theirs.split(":")[0] != worker_id().split(":")[0]
    assert not dead_local_owner(theirs.replace(":1:", f":{ended_pid()}:"))
