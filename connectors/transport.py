"""HTTP sessions for the client libraries.

simple-salesforce and zenpy always build ``https://<public host>/...`` URLs. To run them unmodified
against a local emulator, we hand them a ``requests.Session`` whose transport adapter sends the
public host to a loopback address. This uses only public hooks (the clients' ``session=`` argument
and requests' adapter mounting); the clients' own code is untouched.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from connectors.write_guard import before_write

DEFAULT_TIMEOUT = 30.0

#: Seconds to wait for a connection to be made. The answer's wait is the request's own timeout;
#: a host that takes longer than this to accept a connection is unreachable (a firewall or a
#: network path that drops the packets), not slow to answer.
CONNECT_TIMEOUT = 10.0

#: Seconds during which requests to a host whose connection attempt timed out fail at once. A
#: host that drops connection attempts makes each one wait the full connect timeout; without the
#: pause, every retry of every stage of a pass waited it again (six minutes for one pass with
#: Zendesk unreachable). One attempt per pause finds the host back.
UNREACHABLE_PAUSE = 60.0


class HostPausedError(requests.ConnectTimeout):
    """A request not sent: its host's last connection attempt timed out moments ago."""


class CallCounter:
    """Counts HTTP requests per label (one label per external system); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, label: str) -> None:
        with self._lock:
            self._counts[label] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class TimeoutAdapter(HTTPAdapter):
    """An adapter that gives every request a timeout unless the caller chose one, counts it
    (not one whose connection could not be made: the system never saw it), and runs the write
    check (:mod:`connectors.write_guard`) before any request that writes.

    The client libraries do not always pass a timeout; a hung socket must not hang the daemon.
    A connection must be made within ``connect_timeout`` (or the request's timeout, if less);
    once one attempt timed out, requests to that host fail at once for ``pause`` seconds
    (:class:`HostPausedError`), so an unreachable host costs a pass one wait, not one per call.
    """

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT,
        counter: CallCounter | None = None,
        label: str = "",
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        pause: float = UNREACHABLE_PAUSE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.pause = pause
        self.counter = counter
        self.label = label
        self._lock = threading.Lock()
        #: Host (as connected to) -> monotonic time its connection attempt timed out.
        self._timed_out: dict[str, float] = {}

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        before_write(request.method)
        timeout = kwargs.get("timeout")
        if timeout is None:
            timeout = self.timeout
        if isinstance(timeout, int | float):
            timeout = (min(self.connect_timeout, float(timeout)), float(timeout))
        kwargs["timeout"] = timeout
        target = urlsplit(request.url or "").netloc
        self._refuse_if_paused(target, request)
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException as exc:
            if isinstance(exc, requests.ConnectTimeout):
                with self._lock:
                    self._timed_out[target] = time.monotonic()
            # A connection never made is no call: the system did not see it.
            if self.counter is not None and lost_after_sending(exc) is not False:
                self.counter.add(self.label)
            raise
        if self.counter is not None:
            self.counter.add(self.label)
        return response

    def _refuse_if_paused(self, target: str, request: requests.PreparedRequest) -> None:
        with self._lock:
            timed_out = self._timed_out.get(target)
            if timed_out is None:
                return
            if time.monotonic() - timed_out >= self.pause:
                del self._timed_out[target]  # this request is the next attempt
                return
        raise HostPausedError(
            f"the connection timed out (not tried again for {self.pause:.0f} s)", request=request
        )


#: Texts of the socket and resolver errors requests wraps, and what they mean to an admin.
_CAUSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        (
            "Name or service not known",
            "nodename nor servname",
            "Temporary failure in name resolution",
            "getaddrinfo failed",
            "No address associated with hostname",
            "NameResolutionError",
        ),
        "the host name does not resolve (DNS)",
    ),
    (("Connection refused", "ConnectionRefusedError"), "connection refused"),
    (("Connection reset", "ConnectionResetError", "RemoteDisconnected"), "connection reset"),
    (("Network is unreachable", "No route to host"), "network unreachable"),
    (("CERTIFICATE_VERIFY_FAILED", "SSLError", "SSL:"), "TLS handshake failed"),
)


def failed_host(error: requests.RequestException) -> str:
    """The public host a failed request was for (a loopback route keeps it in ``Host``)."""
    request = error.request
    if request is None:
        return "the server"
    host = request.headers.get("Host") if request.headers else None
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return str(host or urlsplit(request.url or "").netloc or "the server")


#: 5xx answers that come from a gateway that stopped waiting for the server behind it, which may
#: still carry the request out (a server's own 500 or 503 says it did not).
GATEWAY_STATUSES = frozenset({502, 504})


def lost_after_sending(exc: BaseException) -> bool | None:
    """For a transport failure, whether the request may have reached the server and taken
    effect: a timeout waiting for the answer or a connection lost once the request was sent; not
    a refused, unreachable or failed TLS connection. None when ``exc`` is no transport failure
    (the caller judges its own answers)."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.Timeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        return not isinstance(getattr(reason, "reason", reason), NewConnectionError)
    return None


def describe_failure(error: requests.RequestException) -> str:
    """What went wrong with a request that got no answer, naming the host: ``cannot connect to
    acme.my.salesforce.com: connection refused``, ``... did not answer within 30 s``."""
    host = failed_host(error)
    if isinstance(error, HostPausedError):
        return f"cannot connect to {host}: {error.args[0]}"
    if isinstance(error, requests.ConnectTimeout):
        return f"cannot connect to {host}: the connection timed out"
    if isinstance(error, requests.Timeout):
        return f"{host} did not answer in time (timed out)"
    text = f"{error!r} {error}"
    cause = next(
        (meaning for needles, meaning in _CAUSES if any(n in text for n in needles)),
        "connection failed",
    )
    return f"cannot connect to {host}: {cause}"


def is_loopback_origin(target: str) -> bool:
    """True for a plain ``http://`` origin on this machine (localhost, 127.0.0.0/8, ::1).

    The URL is parsed, not prefix-matched: ``http://localhost@evil.example`` names the host
    ``evil.example`` (``localhost`` is a user name there), and ``http://127.0.0.1.evil.example``
    is a domain.
    """
    parts = urlsplit(target)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    if parts.scheme != "http" or parts.username is not None or parts.password is not None:
        return False
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackAdapter(TimeoutAdapter):
    """Sends requests for one public origin to a loopback ``http://`` origin.

    The original host travels in ``Host`` and ``X-Forwarded-Proto`` so the emulator can build
    absolute self-URLs that the client will follow back through this adapter.
    """

    def __init__(self, target: str, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        if not is_loopback_origin(target):
            raise ValueError(f"not a loopback origin: {target!r}")
        super().__init__(timeout, **kwargs)
        parts = urlsplit(target)
        self._scheme = parts.scheme or "http"
        self._netloc = parts.netloc

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        original = urlsplit(request.url or "")
        routed = request.copy()
        routed.headers["Host"] = original.netloc
        routed.headers["X-Forwarded-Proto"] = original.scheme
        routed.url = urlunsplit(
            (self._scheme, self._netloc, original.path, original.query, original.fragment)
        )
        response = super().send(routed, **kwargs)
        # The client sees the answer as coming from the public URL it asked for.
        response.request = request
        response.url = request.url or ""
        return response


def make_session(
    routes: Mapping[str, str] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    counter: CallCounter | None = None,
    label: str = "",
    connect_timeout: float = CONNECT_TIMEOUT,
    pause: float = UNREACHABLE_PAUSE,
) -> requests.Session:
    """A session with request timeouts that routes each public origin in ``routes`` to loopback.

    ``routes`` maps e.g. ``"https://acme.my.salesforce.com"`` to ``"http://127.0.0.1:54321"``.
    With no routes this is a plain session for real services. Each request is counted under
    ``label`` in ``counter`` when one is given. ``connect_timeout`` and ``pause``: see
    :class:`TimeoutAdapter`.
    """
    options: dict[str, Any] = {
        "counter": counter,
        "label": label,
        "connect_timeout": connect_timeout,
        "pause": pause,
    }
    session = requests.Session()
    session.mount("https://", TimeoutAdapter(timeout, **options))
    session.mount("http://", TimeoutAdapter(timeout, **options))
    for origin, target in (routes or {}).items():
        session.mount(origin.rstrip("/") + "/", LoopbackAdapter(target, timeout, **options))
    return session
