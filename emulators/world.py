"""The embedded world: Salesforce, Zendesk and Delighted emulators on loopback, seeded alike,
and a Typeform emulator when asked for.

``nps-sync demo``, ``nps-sync sandbox``, the end-to-end tests and the benchmark run the real
clients against this. The emulators listen on ephemeral 127.0.0.1 ports, or on fixed ones from
``port_base`` (the sandbox, whose config must keep working after a restart);
:meth:`EmulatedWorld.config_data` returns a config whose ``loopback_routes`` send the public hosts
there and whose secrets are read from environment variables that :meth:`EmulatedWorld.start` sets
for this process only.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from emulators.base import EmulatorApp, EmulatorServer
from emulators.delighted import DelightedEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.seed import generate_seed
from emulators.seed_model import Seed, SeedSurveyResponse
from emulators.steady_faults import inject_steady_faults
from emulators.typeform import COMMENT_REF, DEFAULT_FORM, SCORE_REF, TypeformEmulator
from emulators.zendesk import ZendeskEmulator

SF_HOST = "https://acme.my.salesforce.com"
SF_LOGIN = "https://login.salesforce.com"
ZD_HOST = "https://acme.zendesk.com"
DELIGHTED_HOST = "https://api.delighted.com"
TYPEFORM_HOST = "https://api.typeform.com"

#: Credentials the emulators accept; exported as environment variables for the config.
DEMO_ENV = {
    "NPS_DEMO_SF_PASSWORD": "password",
    "NPS_DEMO_SF_TOKEN": "TOKEN",
    "NPS_DEMO_ZD_TOKEN": "TOKEN",
    "NPS_DEMO_DELIGHTED_KEY": "DELIGHTED_KEY",
    "NPS_DEMO_TYPEFORM_TOKEN": "TYPEFORM_TOKEN",
    "NPS_DEMO_TYPEFORM_SECRET": "TYPEFORM_WEBHOOK_SECRET",
}
#: How far back the Typeform answers of a world go: a form that has been out for a month.
TYPEFORM_WINDOW = timedelta(days=30)
DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules" / "examples" / "default.yaml"

#: Zendesk as a real account behaves (Enterprise plan limits, as in recorded traffic): 700 requests
#: a minute, incremental exports 10 a minute, bulk jobs that complete after one to three polls,
#: and a search index that shows a new user a little after it was created (minutes in real
#: accounts; seconds here, so the demo stays quick while clients still meet the lag).
REALISTIC_ZENDESK: dict[str, Any] = {
    "rate_limit_per_minute": 700,
    "incremental_rate_limit_per_minute": 10,
    "job_polls_to_complete": (1, 3),
    "search_index_delay_seconds": 2.0,
}
#: What ``nps-sync demo`` and ``nps-sync sandbox`` (and the fault and lost-answer proofs) add to
#: :data:`REALISTIC_ZENDESK`: a bulk job's batch takes effect when the job completes, not when
#: Zendesk accepts it, as in a real account. The other users of the world keep jobs applied as
#: they are accepted.
LIVE_JOBS: dict[str, Any] = {"job_apply": "on_completion"}
#: Salesforce as a real org behaves: 100,000 API calls in any 24 hours (an Enterprise org's base
#: allowance; Bulk API 2.0 jobs already take polls to finish, see ``bulk_polls_to_complete``).
REALISTIC_SALESFORCE: dict[str, Any] = {"daily_limit": 100_000}


@dataclass
class EmulatedWorld:
    """Three emulators sharing one seed book of business."""

    seed: int = 7
    accounts: int = 300
    responses: int = 1500
    end: datetime | None = None
    #: More :func:`generate_seed` options (``contacts_per_account``, ``distinct_respondents``...).
    seed_options: dict[str, Any] = field(default_factory=dict)
    #: :class:`ZendeskEmulator` options over :data:`REALISTIC_ZENDESK` (``job_polls_to_complete``).
    zendesk_options: dict[str, Any] = field(default_factory=dict)
    #: :class:`SalesforceEmulator` options over :data:`REALISTIC_SALESFORCE` (``bare=True``: an
    #: org without nps-sync's fields; ``daily_limit``...).
    salesforce_options: dict[str, Any] = field(default_factory=dict)
    #: Salesforce on this port, Zendesk on the next, Delighted on the one after (and Typeform
    #: after that, when it runs); None: ephemeral.
    port_base: int | None = None
    #: Also run a Typeform emulator whose form has this many answers from the book's contacts
    #: over the last :data:`TYPEFORM_WINDOW`, and configure it as a second source; 0: no
    #: Typeform. (Its answers are repeats of seed answers, at other times.)
    typeform_responses: int = 0
    salesforce: SalesforceEmulator = field(init=False)
    zendesk: ZendeskEmulator = field(init=False)
    delighted: DelightedEmulator = field(init=False)
    typeform: TypeformEmulator = field(init=False)
    book: Seed = field(init=False)
    _servers: list[EmulatorServer] = field(init=False, default_factory=list)
    _replies: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.book = generate_seed(
            self.seed,
            accounts=self.accounts,
            responses=self.responses,
            end=self.end,
            **self.seed_options,
        )
        self.salesforce = SalesforceEmulator(
            seed=self.seed, **{**REALISTIC_SALESFORCE, **self.salesforce_options}
        )
        self.zendesk = ZendeskEmulator(
            seed=self.seed, **{**REALISTIC_ZENDESK, **self.zendesk_options}
        )
        self.delighted = DelightedEmulator(api_key=DEMO_ENV["NPS_DEMO_DELIGHTED_KEY"])
        self.salesforce.load_seed(self.book)
        self.zendesk.load_seed(self.book)
        self.delighted.load_seed(self.book)
        self.typeform = TypeformEmulator(
            DEMO_ENV["NPS_DEMO_TYPEFORM_TOKEN"],
            webhook_secret=DEMO_ENV["NPS_DEMO_TYPEFORM_SECRET"],
            seed=self.seed,
        )
        self.typeform.load_seed(self._typeform_answers())
        self._replies = random.Random(self.seed)

    def _typeform_answers(self) -> list[SeedSurveyResponse]:
        """Answers of known contacts, at times spread over the form's last month."""
        rng = random.Random(self.seed + 1)
        known = {contact.email: contact for contact in self.book.contacts}
        pool = [r for r in self.book.responses if r.email in known]
        if not pool or not self.typeform_responses:
            return []
        end = max(r.created_at for r in self.book.responses)
        answers = []
        for _ in range(self.typeform_responses):
            answer = rng.choice(pool)
            moment = end - rng.random() * TYPEFORM_WINDOW
            contact_id = known[answer.email].id
            properties = {"Salesforce Contact Id": contact_id}
            answers.append(
                SeedSurveyResponse(
                    id="",
                    person_id=answer.person_id,
                    email=answer.email,
                    name=answer.name,
                    score=answer.score,
                    comment=answer.comment,
                    created_at=moment,
                    updated_at=moment,
                    properties=properties,
                )
            )
        return answers

    def start(self) -> EmulatedWorld:
        """Serve the emulators; a fixed port in use raises :class:`OSError`, with none left
        running."""
        os.environ.update(DEMO_ENV)
        try:
            for offset, app in enumerate(self.apps()):
                port = 0 if self.port_base is None else self.port_base + offset
                self._servers.append(EmulatorServer(app, port).start())
        except OSError:
            self.stop()
            raise
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
        sf, zd, dl, *tf = (s.url for s in self._servers)
        routes = {SF_HOST: sf, SF_LOGIN: sf, ZD_HOST: zd, DELIGHTED_HOST: dl}
        if tf:
            routes[TYPEFORM_HOST] = tf[0]
        return routes

    def respond_again(self) -> tuple[str, int]:
        """A known respondent answers the survey again, now (the same score and comment as one
        of their seed answers): new work for a running daemon. Returns the id and the score.
        The sequence is the same for a given seed."""
        known = {contact.email for contact in self.book.contacts}
        answers = [r for r in self.book.responses if r.email in known]
        answer = self._replies.choice(answers)
        response_id = self.delighted.add_response(
            email=answer.email,
            score=answer.score,
            comment=answer.comment,
            name=answer.name,
            properties=answer.properties,
            tags=answer.tags,
        )
        return response_id, answer.score

    def respond_on_typeform(self) -> tuple[str, int]:
        """Like :meth:`respond_again`, on the Typeform form: returns the token and the score."""
        known = {contact.email: contact for contact in self.book.contacts}
        answers = [r for r in self.book.responses if r.email in known]
        answer = self._replies.choice(answers)
        hidden = {"email": answer.email, "name": answer.name, "sfid": known[answer.email].id}
        token = self.typeform.add_response(
            email=answer.email, score=answer.score, comment=answer.comment, hidden=hidden
        )
        return token, answer.score

    def apps(self) -> tuple[EmulatorApp, ...]:
        """The emulators this world runs: Salesforce, Zendesk, Delighted (and Typeform)."""
        apps: tuple[EmulatorApp, ...] = (self.salesforce, self.zendesk, self.delighted)
        return (*apps, self.typeform) if self.typeform_responses else apps

    def inject_steady_faults(self, rate: float, seed: int) -> None:
        """Fail ``rate`` of the requests to each emulator from now on, at random among the
        kinds its API is known for (see :mod:`emulators.steady_faults`), drawn from ``seed``."""
        inject_steady_faults(self.apps(), rate, seed)

    def api_calls(self) -> dict[str, int]:
        """Requests each emulator has served so far."""
        return {
            "salesforce": self.salesforce.total_calls(),
            "zendesk": self.zendesk.total_calls(),
            "delighted": self.delighted.total_calls(),
            **({"typeform": self.typeform.total_calls()} if self.typeform_responses else {}),
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
        if self.typeform_responses:
            data["sources"].append(self.typeform_source())
        data.update(overrides)
        return data

    @staticmethod
    def typeform_source(name: str = "typeform") -> dict[str, Any]:
        """The config of a source reading the Typeform emulator's form."""
        return {
            "type": "typeform",
            "name": name,
            "form_id": DEFAULT_FORM,
            "token": {"env": "NPS_DEMO_TYPEFORM_TOKEN"},
            "webhook_secret": {"env": "NPS_DEMO_TYPEFORM_SECRET"},
            "base_url": TYPEFORM_HOST,
            "score_ref": SCORE_REF,
            "comment_ref": COMMENT_REF,
            "hidden": {"email": "email", "name": "name", "salesforce_contact_id": "sfid"},
        }
