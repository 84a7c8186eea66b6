"""``nps-sync sandbox``: emulators kept running, and a config written once that every command can
use from another shell, restart after restart."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

from connectors.surveys.webhooks import verify_delighted, verify_typeform
from tests.support import nps_sync_command, wait_for

READY = "Sandbox ready"


def free_port_base(count: int = 3) -> int:
    """A port with the ``count - 1`` after it also free on 127.0.0.1.

    Drawn below the kernel's ephemeral range (32768 and up on Linux): a port found free there
    cannot be taken by another test's outgoing connection before the sandbox binds it.
    """
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as taken:
                    taken.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError(f"no {count} free ports in a row")


def clean_env() -> dict[str, str]:
    """Another shell's environment: none of the emulators' secrets a test world may have set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPS_DEMO_")}
    return {**env, "NO_COLOR": "1", "COLUMNS": "120"}


def nps_sync(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI with arguments from the test
        [*nps_sync_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env=clean_env(),
    )


class Sandbox:
    """``nps-sync sandbox`` in the background; its output, line by line."""

    def __init__(self, directory: Path, port_base: int, *extra: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [
                *nps_sync_command(), "sandbox", "--dir", str(directory),
                "--port-base", str(port_base), "--accounts", "20", "--responses", "80",
                "--new-response-every", "0", *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )  # fmt: skip
        self.lines: list[str] = []
        self.ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY):
                self.ready.set()

    def wait_ready(self) -> None:
        wait_for(lambda: self.ready.is_set() or self.process.poll() is not None, 60)
        assert self.ready.is_set(), (self.process.poll(), "\n".join(self.lines))

    def terminate(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        """Send ``signum`` (once, if it still runs); the exit code and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        with self.process.stdout, self.process.stderr:
            return code, self.process.stderr.read()


@pytest.fixture
def port_base() -> int:
    return free_port_base()


@pytest.fixture
def sandbox(tmp_path: Path, port_base: int) -> Iterator[Sandbox]:
    running = Sandbox(tmp_path / "sandbox", port_base)
    try:
        yield running
    finally:
        if not running.process.stderr or not running.process.stderr.closed:
            running.terminate(signal.SIGKILL)


@pytest.mark.timeout(180)
def test_the_sandbox_serves_every_command_until_sigterm(
    sandbox: Sandbox, tmp_path: Path, port_base: int
) -> None:
    sandbox.wait_ready()
    directory = tmp_path / "sandbox"
    config = directory / "nps-sync.yaml"
    guide = "\n".join(sandbox.lines)
    assert f"nps-sync run --config {config}" in guide
    assert f"nps-sync status --config {config}" in guide
    assert f"http://127.0.0.1:{port_base}" in guide

    # Secrets are file references to the emulators' dummy values, readable by the owner only.
    text = config.read_text(encoding="utf-8")
    assert "emulator-only dummy values" in text
    assert "env:" not in text
    secret_files = sorted((directory / "secrets").iterdir())
    assert len(secret_files) == 4
    for secret in secret_files:
        assert f"file: {secret}" in text
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (directory / "rules.yaml").is_file()

    synced = nps_sync("sync", "--config", config)
    assert synced.returncode == 0, synced.stderr
    assert "Responses pulled" in synced.stdout
    status = nps_sync("status", "--json", "--config", config)
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    (run,) = document["runs"]
    assert run["status"] == "ok"
    assert run["pulled"] == 80
    assert run["tasks_created"] > 0  # the last days' answers are acted on...
    assert document["responses"]["too_old"] > 0  # ...the rest of the year is history
    assert (directory / "state.db").is_file()

    code, stderr = sandbox.terminate()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert sandbox.lines[-1] == "Sandbox stopped."


@pytest.mark.timeout(180)
def test_a_restart_keeps_the_config_and_the_edited_rules(tmp_path: Path, port_base: int) -> None:
    directory = tmp_path / "sandbox"
    first = Sandbox(directory, port_base)
    try:
        first.wait_ready()
        config = directory / "nps-sync.yaml"
        written = config.read_text(encoding="utf-8")
        assert nps_sync("sync", "--config", config).returncode == 0

        # A second sandbox on the same ports stops at once with the reason.
        second = nps_sync(
            "sandbox", "--dir", tmp_path / "other", "--port-base", str(port_base),
            "--accounts", "5", "--responses", "5",
        )  # fmt: skip
        assert second.returncode == 75
        assert second.stderr.startswith(f"Error: a port from {port_base} to {port_base + 2} is")
        assert "--port-base" in second.stderr
    finally:
        first.terminate()

    rules = directory / "rules.yaml"
    edited = rules.read_text(encoding="utf-8") + "# an admin's edit\n"
    rules.write_text(edited, encoding="utf-8")
    again = Sandbox(directory, port_base)
    try:
        again.wait_ready()
        assert config.read_text(encoding="utf-8") == written
        assert rules.read_text(encoding="utf-8") == edited
        assert "yours, kept from before" in "\n".join(again.lines)
        assert not (directory / "state.db").exists()  # the emulators start from their seed
        checked = nps_sync("check", "--json", "--config", config)
        assert json.loads(checked.stdout)["ok"] is True, checked.stdout
        synced = nps_sync("sync", "--json", "--config", config)
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["pulled"] == 80
    finally:
        code, stderr = again.terminate()
    assert code == 0, stderr


@pytest.mark.timeout(180)
def test_the_daemon_on_the_sandbox_reloads_edited_rules_and_says_what_it_does(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.wait_ready()
    directory = tmp_path / "sandbox"
    config, rules = directory / "nps-sync.yaml", directory / "rules.yaml"
    log = tmp_path / "daemon.log"
    with log.open("wb") as sink:
        daemon = subprocess.Popen(  # noqa: S603 - our own CLI
            [*nps_sync_command(), "run", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
    try:
        assert wait_for(lambda: "poll done: 80 pulled" in log.read_text(), timeout=60), (
            log.read_text()
        )
        text = rules.read_text(encoding="utf-8")
        edited = text.replace("Call within one business day", "Call within one working day")
        assert edited != text
        rules.write_text(edited)
        # The next pass (a drain, every 10 s) takes the edit up.
        assert wait_for(lambda: "rules reloaded from" in log.read_text(), timeout=60), (
            log.read_text()
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    output = log.read_text()
    assert code == 0, output
    mark = "sync.app.scheduler: "
    lines = [line.split(mark, 1)[1] for line in output.splitlines() if mark in line]
    assert lines[0].startswith("daemon started (worker ")
    assert lines[0].endswith(
        "polling the sources every 30 s, running due actions and write-backs every 10 s, "
        "reconciling fields at '0 3 * * *' (cron, UTC); stop it with Ctrl-C or SIGTERM"
    )
    assert f"rules reloaded from {rules}" in output
    assert "SIGTERM received: finishing the batch in flight, then stopping" in output
    assert lines[-1].startswith("daemon stopped; ")
    for jargon in ("apscheduler", "Traceback", "job store", "Scheduler", "executor"):
        assert jargon not in output


@pytest.mark.timeout(60)
def test_the_sandbox_sends_each_new_response_as_a_signed_webhook(
    tmp_path: Path, port_base: int
) -> None:
    received: list[tuple[bytes, str | None]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("X-Delighted-Webhook-Signature")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/delighted/delighted"
    # The option given again wins: a new response every 0.2 s.
    running = Sandbox(
        tmp_path / "sandbox", port_base, "--webhook-url", url, "--new-response-every", "0.2"
    )
    try:
        running.wait_ready()
        assert wait_for(lambda: len(received) >= 2, timeout=20), "\n".join(running.lines)
        key = (tmp_path / "sandbox" / "secrets" / "delighted-api-key").read_text().strip()
        for body, signature in received:
            assert verify_delighted(body, signature, key)
            event = json.loads(body)
            assert event["event_type"] == "survey_response.created"
            assert event["event_data"]["person"]["email"]
        assert wait_for(lambda: "  webhook: answered 200" in running.lines, timeout=10)
        assert "--webhook-url" in "\n".join(running.lines)  # the guide says how
    finally:
        running.terminate(signal.SIGKILL)
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(180)
def test_the_sandbox_serves_a_typeform_form_as_a_second_source(tmp_path: Path) -> None:
    received: list[tuple[bytes, str | None]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, self.headers.get("Typeform-Signature")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/webhooks/typeform/typeform"
    base = free_port_base(4)
    directory = tmp_path / "sandbox"
    running = Sandbox(directory, base, "--typeform", "--typeform-webhook-url", url)
    try:
        running.wait_ready()
        guide = "\n".join(running.lines)
        assert f"Typeform    http://127.0.0.1:{base + 3}" in guide
        config = directory / "nps-sync.yaml"
        synced = nps_sync("sync", "--json", "--config", config)
        assert synced.returncode == 0, synced.stderr
        report = json.loads(synced.stdout)
        assert report["api_calls"]["typeform"] >= 1
        assert report["pulled"] == 80 + 200
    finally:
        running.terminate(signal.SIGKILL)
    # New responses alternate; every other one is a signed Typeform webhook.
    running = Sandbox(directory, base, "--typeform", "--typeform-webhook-url", url,
                      "--new-response-every", "0.2")  # fmt: skip
    try:
        running.wait_ready()
        assert wait_for(lambda: len(received) >= 1, timeout=20), "\n".join(running.lines)
        secret = (directory / "secrets" / "typeform-webhook-secret").read_text().strip()
        body, signature = received[0]
        assert verify_typeform(body, signature, secret)
        assert json.loads(body)["event_type"] == "form_response"
    finally:
        running.terminate(signal.SIGKILL)
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(120)
def test_the_sandbox_fails_a_fraction_of_the_requests_when_asked_and_counts_them(
    tmp_path: Path, port_base: int
) -> None:
    running = Sandbox(tmp_path / "sandbox", port_base, "--faults", "0.3", "--fault-seed", "3")
    try:
        running.wait_ready()
        guide = "\n".join(running.lines)
        assert "faults: 30.0% of the requests to each emulator fail at random" in guide
        session = requests.Session()
        session.auth = ("agent@acme.example/token", "TOKEN")
        failed = 0
        for _ in range(100):
            try:
                answer = session.get(f"http://127.0.0.1:{port_base + 1}/api/v2/users/me.json")
            except requests.ConnectionError:
                failed += 1
                continue
            failed += answer.status_code != 200
    finally:
        code, stderr = running.terminate()
    assert code == 0, stderr
    assert 15 <= failed <= 45  # 30 expected
    summary = running.lines[-2]
    assert summary.startswith("Faults injected: salesforce 0 of 0 requests; ")
    assert f"zendesk {failed} of 100 requests (429 " in summary
