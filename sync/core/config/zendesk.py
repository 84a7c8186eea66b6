"""The ``zendesk`` section: account, login, field names, organization matching, tickets."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from rules.scalars import ZendeskTag
from sync.core.config.base import Issue, Section, compiling_template, invalid, plain_domains
from sync.core.config.secrets import Secret


class ZendeskAuth(Section):
    """An agent's email with an API token, or an OAuth token; every secret is env or file."""

    email: str | None = None
    token: Secret | None = None
    oauth_token: Secret | None = None

    @model_validator(mode="after")
    def _one_complete_login(self) -> ZendeskAuth:
        if self.oauth_token is not None:
            if self.token is not None:
                message = "give either token (with email) or oauth_token, not both"
                raise invalid([Issue(("token",), message, "key")])
            return self
        if self.token is not None and not self.email:
            raise invalid([Issue(("token",), "an API token needs the agent's email", "key")])
        if self.token is None:
            message = "give email with an API token (token), or an OAuth token (oauth_token)"
            where = ("email",) if self.email else ()
            raise invalid([Issue(where, message, "key" if self.email else "value")])
        return self


class ZendeskFields(Section):
    """Custom field names: ticket field titles, user and organization field keys ("" = off)."""

    ticket_score: str = "NPS Score"
    ticket_category: str = "NPS Category"
    ticket_response_link: str = "NPS Response Link"
    ticket_account_arr: str = ""
    ticket_account_tier: str = ""
    #: Ticket dropdown of the loop outcome (tags loop_resolved, loop_not_reachable,
    #: loop_no_action_needed, loop_churn_risk), read by ticket tracking; "" = not used.
    ticket_loop_outcome: str = "Loop outcome"
    user_score: str = "nps_score"
    user_category: str = "nps_category"
    user_date: str = "nps_date"
    organization_nps: str = "nps_account_score"


OrganizationSource = Literal["user", "external_id", "domain"]


class ZendeskMatching(Section):
    """How a requester's Zendesk organization is found, first source that answers wins.

    ``user``: the organization the user belongs to; ``external_id``: the organization whose
    external id is the matched Salesforce account id; ``domain``: ``organization_domains``.
    """

    organization_from: tuple[OrganizationSource, ...] = ("user", "external_id", "domain")
    #: Email domain -> organization name (resolved to an id at start-up).
    organization_domains: dict[str, str] = Field(default_factory=dict)
    #: How long "Zendesk has no user with this email" is remembered: respondents are searched
    #: by email only when an action or a write-back needs their user, and a negative answer is
    #: not asked again for this many days (0: search every pass). A user created in Zendesk by
    #: hand meanwhile is found once it expires; users nps-sync creates are known at once.
    remember_unknown_users_days: float = Field(7, ge=0, le=365)
    #: How respondents are found by email. ``export``: from a mirror of Zendesk's users kept
    #: from the incremental user export (1,000 users a request, read on from where it stopped
    #: once a pass; the first run of a large account reads its users at the export's own
    #: limit of 10 requests a minute, 10,000 users a minute, and searches meanwhile).
    #: ``search``: one exact email search per respondent. The export needs an admin's
    #: credentials; without them lookups search.
    user_lookup: Literal["export", "search"] = "export"
    #: Export requests a pass may spend on the mirror (the export allows 10 a minute).
    user_export_pages_per_pass: int = Field(10, ge=1, le=1000)
    #: Lookups trust the mirror only if the export reached its end this recently; older, they
    #: search (a pass that reads the export on to its end refreshes it).
    user_mirror_max_age_minutes: float = Field(60, gt=0)

    @field_validator("organization_domains")
    @classmethod
    def _plain_domains(cls, domains: dict[str, str]) -> dict[str, str]:
        plain_domains(domains, "organization domains")
        return domains


class ZendeskTickets(Section):
    """How NPS tickets are written."""

    #: Where the customer context of Tasks and tickets finds the requester's unsolved tickets.
    #: ``export``: a mirror of the unsolved tickets kept from the incremental ticket export
    #: (1,000 tickets a request, read on from where it stopped once a poll pass), without a
    #: request per requester; until the export has reached its end once (a first run on an
    #: account of many tickets takes several passes at the export's limit of 10 requests a
    #: minute), and whenever it has not within ``context_max_age_minutes``, as ``requests``
    #: does. ``requests``: a ``show_many`` of counts per 100 requesters, then a list per
    #: requester who has some, within ``rate_limit.context_lists_per_minute``.
    context_from: Literal["export", "requests"] = "export"
    #: Export requests a pass may spend on that mirror (the exports share 10 a minute).
    context_export_pages_per_pass: int = Field(3, ge=1, le=1000)
    context_max_age_minutes: float = Field(60, gt=0)

    #: ``attach_to_open`` actions comment on an open NPS ticket of the same requester (or of
    #: the same organization) created within the window, instead of opening another.
    attach_scope: Literal["requester", "organization"] = "requester"
    attach_window_days: int = Field(30, ge=1)
    #: Jinja2 template of the customer context appended to every ticket body; None: the
    #: built-in one, "": no context block.
    context_template: str | None = None
    #: Earlier responses of the person shown in the context (score history, comments).
    history_limit: int = Field(5, ge=0, le=50)
    #: Public comments are emailed to the requester; NPS tickets start as internal notes.
    public_comments: bool = False
    #: Tags on every ticket nps-sync creates, besides the rule's own: the support team's views,
    #: triggers and reports find NPS tickets by them, however a rule is written.
    tags: tuple[ZendeskTag, ...] = ("nps",)
    #: A ``create_many`` / ``update_many`` submit that got no answer (a timeout, a connection
    #: lost after sending, a gateway's 5xx) may have queued a job whose id never came back, and
    #: Zendesk runs a job when its queue reaches it. Its tickets and comments are not sent again
    #: before this many seconds have passed since the submit and a lookup by their key finds
    #: nothing (one that turns up meanwhile is taken as made). Zendesk states no bound on a
    #: job's time in the queue; jobs run within seconds to minutes, and an hour is what the
    #: statuses of finished jobs used to be kept.
    settle_seconds: float = Field(3600.0, gt=0.0)

    @field_validator("context_template")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return compiling_template(value)


class ZendeskRateLimit(Section):
    """Waiting on Zendesk's per-minute rate limit without parking the scheduler thread."""

    #: Seconds per minute a pass may sleep on ``Retry-After`` / an exhausted minute budget;
    #: a longer wait defers the work to the next run.
    wait_budget_seconds: float = Field(10.0, ge=0)
    #: Requests per minute left to other integrations on the account.
    reserve_requests: int = Field(0, ge=0)
    #: The requester's open tickets are listed in Task and ticket context (one request per
    #: requester who has any) only while at least this share of the minute's budget is left;
    #: below it the context says they are not known, and the budget goes to the work itself.
    context_headroom: float = Field(0.5, ge=0, le=1)
    #: ... and at most this many such lists a minute (0: never list them, counts only).
    context_lists_per_minute: int = Field(30, ge=0)


class ZendeskTracking(Section):
    """Following our tickets' status through the incremental ticket export."""

    enabled: bool = True
    #: Export pages read per pass (Zendesk allows 10 export requests a minute).
    max_pages_per_pass: int = Field(5, ge=1, le=10)


#: A Zendesk account's subdomain: one DNS label.
_SUBDOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


class ZendeskConfig(Section):
    subdomain: str
    domain: str = "zendesk.com"
    # Not validated when left out: offline commands need no login.
    auth: ZendeskAuth = ZendeskAuth.model_construct()
    fields: ZendeskFields = ZendeskFields()
    timeout_seconds: float = 30.0
    matching: ZendeskMatching = ZendeskMatching()
    tickets: ZendeskTickets = ZendeskTickets()
    rate_limit: ZendeskRateLimit = ZendeskRateLimit()
    tracking: ZendeskTracking = ZendeskTracking()

    @property
    def agent_url(self) -> str:
        """Where agents open tickets: ``https://SUBDOMAIN.zendesk.com``."""
        return f"https://{self.subdomain}.{self.domain}"

    @field_validator("subdomain")
    @classmethod
    def _one_label(cls, value: str) -> str:
        """The account's name alone: a URL or host here made a host that does not exist, and
        a pass that failed to connect was taken for an outage and retried for ever."""
        if not _SUBDOMAIN.fullmatch(value):
            name = value.split("://")[-1].split(".")[0].strip("/") or "acme"
            raise ValueError(
                f"write only the subdomain, {name!r} for https://{name}.zendesk.com, not {value!r}"
            )
        return value
