"""The daemon's receiver, wired from the config: intake, health, metrics and the listener."""

from __future__ import annotations

from dataclasses import dataclass

from sync.app.engine import RunReport
from sync.app.health import Health
from sync.app.intake import Intake, TypeformHook
from sync.app.listener import Listener, bind
from sync.app.runtime import typeform_mapping
from sync.app.scheduler import Daemon
from sync.app.telemetry import Telemetry
from sync.app.webhooks import create_app
from sync.core.config import Config, DelightedSourceConfig, TypeformSourceConfig
from sync.state import StateStore


@dataclass
class Receiver:
    intake: Intake
    health: Health
    telemetry: Telemetry
    listener: Listener

    @classmethod
    def open(cls, config: Config, store: StateStore, address: str) -> Receiver:
        """Bind ``address`` and build the app; the Delighted and Typeform sources' signing
        secrets are read now, so a missing one ends the command at start, not at the first
        webhook."""
        sock = bind(address)
        try:
            secrets = {
                spec.name: spec.signing_secret()
                for spec in config.sources
                if isinstance(spec, DelightedSourceConfig)
            }
            typeform = {
                spec.name: TypeformHook(spec.signing_secret(), typeform_mapping(config, spec))
                for spec in config.sources
                if isinstance(spec, TypeformSourceConfig)
            }
        except Exception:
            sock.close()
            raise
        telemetry = Telemetry(store)
        health = Health(store)
        intake = Intake(store, secrets, config.webhooks, telemetry, typeform=typeform)
        listener = Listener(
            create_app(intake, health, telemetry),
            sock,
            header_timeout=config.webhooks.header_timeout_seconds,
        )
        return cls(intake, health, telemetry, listener)

    def attach(self, daemon: Daemon) -> None:
        """The daemon is built: stored webhooks wake its real-time pass, readiness follows its
        engine."""
        self.intake.wake = daemon.respond_soon
        daemon.on_state_error = self.health.store_failed
        self.health.attach(daemon.engine)

    def observe(self, job: str, report: RunReport) -> None:
        """Each finished pass (the daemon's ``on_report``)."""
        self.telemetry.observe(job, report)
        self.health.observe(job, report)
