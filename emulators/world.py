"""The embedded world: Salesforce, Zendesk and Delighted emulators on loopback, seeded alike.

``nps-sync demo``, the end-to-end tests and the benchmark run the real clients against this. The
emulators listen on ephemeral 127.0.0.1 ports; :meth:`EmulatedWorld.config_data` returns a config
whose ``loopback_routes`` send the public hosts there and whose secrets are read from environment
variables that :meth:`EmulatedWorld.start` sets for this process only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from emulators.base import EmulatorServer
from emulators.delighted import DelightedEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.seed import generate_seed
from emulators.seed_model import Seed
from emulators.zendesk import ZendeskEmulator

SF_HOST = "https://acme.my.salesforce.com"
SF_LOGIN = "https://login.salesforce.com"
ZD_HOST = "https://acme.zendesk.com"
DELIGHTED_HOST = "https://api.delighted.com"

#: Credentials the emulators accept; exported as environment variables for the config.
DEMO_ENV = {
    "NPS_DEMO_SF_PASSWORD": "password",
    "NPS_DEMO_SF_TOKEN": "TOKEN",
    "NPS_DEMO_ZD_TOKEN": "TOKEN",
    "NPS_DEMO_DELIGHTED_KEY": "DELIGHTED_KEY",
}
DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules" / "examples" / "default.yaml"


@dataclass
class EmulatedWorld:
    """Three emulators sharing one seed book of business."""

    seed: int = 7
    accounts: int = 300
    responses: int = 1500
    end: datetime | None = None
    #: More :func:`generate_seed` options (``contacts_per_account``, ``distinct_respondents``...).
    seed_options: dict[str, Any] = field(default_factory=dict)
    #: More :class:`ZendeskEmulator` options (``rate_limit_per_minute``...).
    zendesk_options: dict[str, Any] = field(default_factory=dict)
    #: More :class:`SalesforceEmulator` options (``bare=True``: an org without nps-sync's fields).
    salesforce_options: dict[str, Any] = field(default_factory=dict)
    salesforce: SalesforceEmulator = field(init=False)
    zendesk: ZendeskEmulator = field(init=False)
    delighted: DelightedEmulator = field(init=False)
    book: Seed = field(init=False)
    _servers: list[EmulatorServer] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.book = generate_seed(
            self.seed,
            accounts=self.accounts,
            responses=self.responses,
            end=self.end,
            **self.seed_options,
        )
        self.salesforce = SalesforceEmulator(seed=self.seed, **self.salesforce_options)
        self.zendesk = ZendeskEmulator(seed=self.seed, **self.zendesk_options)
        self.delighted = DelightedEmulator(api_key=DEMO_ENV["NPS_DEMO_DELIGHTED_KEY"])
        self.salesforce.load_seed(self.book)
        self.zendesk.load_seed(self.book)
        self.delighted.load_seed(self.book)

    def start(self) -> EmulatedWorld:
        os.environ.update(DEMO_ENV)
        for app in (self.salesforce, self.zendesk, self.delighted):
            self._servers.append(EmulatorServer(app).start())
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()

    def __enter__(self) -> EmulatedWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def routes(self) -> dict[str, str]:
        sf, zd, dl = (s.url for s in self._servers)
        return {SF_HOST: sf, SF_LOGIN: sf, ZD_HOST: zd, DELIGHTED_HOST: dl}

    def api_calls(self) -> dict[str, int]:
        """Requests each emulator has served so far."""
        return {
            "salesforce": self.salesforce.total_calls(),
            "zendesk": self.zendesk.total_calls(),
            "delighted": self.delighted.total_calls(),
        }

    def config_data(
        self, *, state_url: str, rules: Path = DEFAULT_RULES, **overrides: Any
    ) -> dict[str, Any]:
        """The config pointing at these emulators, as the mapping a YAML file would hold.

        ``overrides`` replace top-level sections. The caller validates the mapping with its own
        config model, so the emulators stay independent of the engine.
        """
        data: dict[str, Any] = {
            "state": {"url": state_url},
            "sources": [
                {
                    "type": "delighted",
                    "name": "delighted",
                    "api_key": {"env": "NPS_DEMO_DELIGHTED_KEY"},
                    "base_url": DELIGHTED_HOST,
                }
            ],
            "salesforce": {
                "instance_url": SF_HOST,
                "auth": {
                    "method": "password",
                    "username": "integration@acme.example",
                    "password": {"env": "NPS_DEMO_SF_PASSWORD"},
                    "security_token": {"env": "NPS_DEMO_SF_TOKEN"},
                },
                "fallback_owner_id": self.book.users[0].id,
            },
            "zendesk": {
                "subdomain": "acme",
                "auth": {"email": "agent@acme.example", "token": {"env": "NPS_DEMO_ZD_TOKEN"}},
            },
            "rules": str(rules),
            "loopback_routes": self.routes,
        }
        data.update(overrides)
        return data
