"""Tiny loopback servers for notification tests: a webhook receiver and an SMTP server."""

from __future__ import annotations

import json
import socketserver
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from emulators.base import Reset


@contextmanager
def serving(server: socketserver.TCPServer) -> Iterator[int]:
    """Serve from a background thread until the block ends; yields the port."""
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Webhook:
    """Records JSON posts; answers ``status`` (and ``headers``) to each.

    ``observers`` are called like the emulators' (``("webhook", "received" | "handled")``, the
    second once the post is recorded but before the answer); one that raises
    :class:`emulators.base.Reset` drops the connection without an answer.
    """

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    observers: list[Callable[[str, str], None]] = field(default_factory=list)

    def notify(self, phase: str) -> None:
        for observer in list(self.observers):
            observer("webhook", phase)


class _QuietServer(ThreadingHTTPServer):
    """Does not print the resets of clients that were killed mid-request."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def webhook_server() -> Iterator[Webhook]:
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            try:
                hook.notify("received")
                hook.posts.append(json.loads(self.rfile.read(length)))
                hook.notify("handled")
            except Reset:
                self.close_connection = True
                return
            body = b"ok" if hook.status < 300 else b"no_service"
            self.send_response(hook.status)
            for name, value in hook.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    with serving(_QuietServer(("127.0.0.1", 0), Handler)) as port:
        hook.url = f"http://127.0.0.1:{port}/services/T0/B0/x"
        yield hook


@dataclass
class Mailbox:
    """Messages an SMTP server accepted, with the envelope; and how it should misbehave."""

    port: int = 0
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)
    refuse: str = "@refused.test"
    data_reply: str = "250 queued"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT (no TLS, no auth)."""
    box = Mailbox()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            sender, recipients = "", list[str]()
            self.reply("220 localhost test SMTP")
            while raw := self.rfile.readline():
                command = raw.decode().rstrip("\r\n")
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    sender, recipients = command.split(":", 1)[1].strip(" <>"), []
                    self.reply("250 ok")
                elif verb == "RCPT":
                    address = command.split(":", 1)[1].strip(" <>")
                    if address.endswith(box.refuse):
                        self.reply("550 no such user")
                    else:
                        recipients.append(address)
                        self.reply("250 ok")
                elif verb == "DATA":
                    self.reply("354 go ahead")
                    lines = []
                    while (line := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(line.decode())
                    if box.data_reply.startswith("250"):
                        box.messages.append((sender, recipients, "".join(lines)))
                    self.reply(box.data_reply)
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as box.port:
        yield box
