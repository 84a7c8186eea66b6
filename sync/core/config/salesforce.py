"""The ``salesforce`` section: instance, login, field names, the matching ladder, API use."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from sync.core.config.base import Issue, Section, compiling_template, invalid, plain_domains
from sync.core.config.secrets import Secret

AuthMethod = Literal["password", "jwt", "client_credentials", "session"]

#: The settings each login method cannot do without (see ``connectors/salesforce/auth.py``).
AUTH_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "session": ("session_id",),
    "password": ("username", "password"),
    "jwt": ("username", "consumer_key", "private_key"),
    "client_credentials": ("consumer_key", "consumer_secret"),
}


class SalesforceAuth(Section):
    """How to log in (see ``connectors/salesforce/auth.py``); every secret is env or file.

    ``domain`` is ``login`` (production), ``test`` (sandbox) or a My Domain such as ``acme.my``;
    ``private_key`` is the PEM key of the connected app's certificate (``{file: ...}``). A written
    ``auth`` section must give what its method needs (:data:`AUTH_REQUIREMENTS`); without one, the
    commands that work offline still run and connecting says what is missing.
    """

    method: AuthMethod = "password"
    username: str | None = None
    password: Secret | None = None
    security_token: Secret | None = None
    domain: str = "login"
    consumer_key: Secret | None = None
    consumer_secret: Secret | None = None
    private_key: Secret | None = None
    session_id: Secret | None = None

    @field_validator("domain")
    @classmethod
    def _bare_domain(cls, domain: str) -> str:
        if "://" in domain or domain.endswith(".salesforce.com"):
            raise ValueError("give the domain without scheme or .salesforce.com, e.g. acme.my")
        return domain

    def missing(self) -> list[str]:
        """The settings this method needs that are not given."""
        return [name for name in AUTH_REQUIREMENTS[self.method] if not getattr(self, name)]

    @model_validator(mode="after")
    def _method_requirements(self) -> SalesforceAuth:
        issues: list[Issue] = []
        missing = self.missing()
        if missing:
            needs = ", ".join(missing)
            issues.append(Issue(("method",), f"login method {self.method} needs {needs}"))
        if self.method == "client_credentials" and self.domain in ("login", "test"):
            message = "client_credentials needs your My Domain as domain, e.g. acme.my"
            issues.append(Issue(("domain",), message))
        if issues:
            raise invalid(issues)
        return self


class SalesforceFields(Section):
    """API names of the fields we read and write. Empty string: not used."""

    task_marker: str = "NPS_Sync_Key__c"
    #: Task picklist of the loop outcome (Resolved, Not reachable, No action needed, Churn
    #: risk), read when it exists; "" = not used.
    task_loop_outcome: str = Field("NPS_Loop_Outcome__c", pattern=r"^([A-Za-z][A-Za-z0-9_]*)?$")
    account_tier: str = "Tier__c"
    account_arr: str = "ARR__c"
    account_region: str = "Region__c"
    account_renewal_date: str = "Renewal_Date__c"
    account_domain: str = "Email_Domain__c"
    #: Contact field holding the person's role (``Role__c``), routing's ``contact.role``;
    #: "" = not read.
    contact_role: str = Field("", pattern=r"^([A-Za-z][A-Za-z0-9_]*)?$")
    contact_last_score: str = "NPS_Last_Score__c"
    contact_category: str = "NPS_Category__c"
    contact_last_comment: str = "NPS_Last_Comment__c"
    contact_last_response_date: str = "NPS_Last_Response_Date__c"
    account_nps: str = "NPS_Score__c"
    account_responses: str = "NPS_Responses__c"
    account_revenue_at_risk: str = "NPS_Revenue_At_Risk__c"


MatchStep = Literal["crm_id", "email", "lead", "alias", "domain"]
DEFAULT_MATCH_ORDER: tuple[MatchStep, ...] = ("crm_id", "email", "alias", "domain")


class SalesforceMatching(Section):
    """The matching ladder (:mod:`sync.stages.match`): which steps, in what order, by what names."""

    #: Steps tried in order; ``lead`` (unconverted Leads by email) is off unless listed.
    order: list[MatchStep] = Field(default_factory=lambda: list(DEFAULT_MATCH_ORDER), min_length=1)
    #: Survey person properties carrying Salesforce ids (matched case-insensitively).
    contact_id_property: str = "Salesforce Contact Id"
    account_id_property: str = "Salesforce Account Id"
    #: Several contacts share an email: ``same_account`` picks the oldest only when they all
    #: belong to one account (else the response goes to review); ``oldest`` always picks it.
    ties: Literal["same_account", "oldest"] = "same_account"
    #: Added to the built-in free-mail list; those domains never match an account.
    free_mail_domains: list[str] = Field(default_factory=list)
    #: Email domain -> account Id or exact account Name (subsidiaries, old domains).
    account_aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("free_mail_domains")
    @classmethod
    def _plain_free_mail(cls, domains: list[str]) -> list[str]:
        plain_domains(domains, "free-mail domains")
        return domains

    @field_validator("account_aliases")
    @classmethod
    def _plain_alias_domains(cls, aliases: dict[str, str]) -> dict[str, str]:
        plain_domains(aliases, "alias keys")
        return aliases

    @field_validator("order")
    @classmethod
    def _once_each(cls, order: list[str]) -> list[str]:
        repeated = sorted({step for step in order if order.count(step) > 1})
        if repeated:
            raise ValueError(f"each step may appear once: {', '.join(repeated)}")
        return order


class SalesforceApi(Section):
    """How hard we use the org's API."""

    #: Share of the daily API allowance left to other integrations; a run stops at this line.
    reserve: float = Field(0.2, ge=0.0, lt=1.0)
    #: Updates of more records than this (of one object) go through Bulk API 2.0; 0: never.
    bulk_threshold: int = Field(2000, ge=0)
    #: First wait before polling a Bulk job, in seconds; each later wait is 1.5 times longer,
    #: up to 10 s (or this value if it is longer), so a small job is seen done soon and a long
    #: one costs few polls.
    bulk_poll_seconds: float = Field(0.5, gt=0.0)
    #: Lookups of more values than this in one go (ids, emails, names: a pass's matching window,
    #: a write-back's read-back) are read by Bulk API 2.0 query jobs of up to 4,000 values, a
    #: handful of calls each, instead of REST queries of 200 values; 0: never.
    query_bulk_threshold: int = Field(5000, ge=0)


class SalesforceTasks(Section):
    """How follow-up Tasks are written."""

    #: Jinja2 template of the customer context appended to every Task's description; None: the
    #: built-in one, "": no context block.
    context_template: str | None = None
    #: Answers of the person shown before (and after) the one at hand in the score history.
    history_limit: int = Field(5, ge=0, le=50)
    #: A create that got no answer (a timeout, a connection lost after sending, a 5xx) may still
    #: be carried out: Salesforce runs an API request for up to 10 minutes. Its Tasks are not
    #: created again before this many seconds have passed since it was sent and a lookup by
    #: their key finds nothing (one that turns up meanwhile is taken as made).
    settle_seconds: float = Field(660.0, gt=0.0)

    @field_validator("context_template")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return compiling_template(value)


class SalesforceConfig(Section):
    instance_url: str
    api_version: str = "59.0"
    # Not validated when left out: offline commands need no login.
    auth: SalesforceAuth = SalesforceAuth.model_construct()
    fields: SalesforceFields = SalesforceFields()
    matching: SalesforceMatching = SalesforceMatching()
    api: SalesforceApi = SalesforceApi()
    tasks: SalesforceTasks = SalesforceTasks()
    fallback_owner_id: str | None = None
    timeout_seconds: float = 30.0

    @field_validator("instance_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        """The org's own address, ``https://NAME.my.salesforce.com``: no path, and no user or
        password in it (a URL is printed by ``check`` and in errors; secrets go in ``auth``)."""
        try:
            parts = urlsplit(value)
            if parts.username is not None or parts.password is not None:
                raise ValueError("no user or password in instance_url: credentials go under auth")
            origin = parts.scheme == "https" and bool(parts.hostname) and parts.path in ("", "/")
            origin = origin and (parts.port is None or parts.port > 0)  # a bad port raises
        except ValueError as error:
            if "credentials" in str(error):
                raise
            origin = False
        if not origin:
            raise ValueError(
                f"not the org's address {value!r}: write https://NAME.my.salesforce.com "
                "(the scheme and host, nothing after them)"
            )
        return value.rstrip("/")
