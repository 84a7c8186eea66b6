"""The nps-sync configuration file: model, loading and secret resolution.

Secrets never appear in the file itself: a secret is ``{env: NAME}`` or ``{file: PATH}`` and is read
only when a connector is built. Errors name the file, line and column of the offending key.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from sync.core.errors import ConfigFileError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(_Strict):
    """Where to read a secret: an environment variable or a file (first line, stripped)."""

    env: str | None = None
    file: Path | None = None

    def resolve(self, what: str) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigFileError(f"{what}: environment variable {self.env} is not set")
            return value
        if self.file:
            try:
                return self.file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigFileError(f"{what}: cannot read {self.file}: {exc.strerror}") from exc
        raise ConfigFileError(f"{what}: give either env or file")

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r}, file={str(self.file) if self.file else None!r})"


class StateConfig(_Strict):
    url: str = "sqlite:///nps-sync-state.db"


class ScheduleConfig(_Strict):
    """When the daemon's jobs run: poll the sources, drain the outbox, reconcile fields."""

    poll_interval_seconds: int = Field(300, ge=10)
    drain_interval_seconds: int = Field(60, ge=5)
    #: Crontab (minute hour day month weekday, UTC) of the reconciliation; "" turns it off.
    reconcile_cron: str = "0 3 * * *"

    @field_validator("reconcile_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if value.strip():
            from apscheduler.triggers.cron import CronTrigger

            CronTrigger.from_crontab(value, timezone="UTC")
        return value


class DelightedSourceConfig(_Strict):
    type: Literal["delighted"]
    name: str = "delighted"
    api_key: Secret
    base_url: str = "https://api.delighted.com"
    per_page: int = Field(100, ge=1, le=100)


class FileSourceConfig(_Strict):
    type: Literal["file"]
    path: Path
    name: str | None = None


SourceConfig = Annotated[DelightedSourceConfig | FileSourceConfig, Field(discriminator="type")]


class SalesforceAuth(_Strict):
    """How to log in (see ``connectors/salesforce/auth.py``); every secret is env or file.

    ``domain`` is ``login`` (production), ``test`` (sandbox) or a My Domain such as ``acme.my``;
    ``private_key`` is the PEM key of the connected app's certificate (``{file: ...}``).
    """

    method: Literal["password", "jwt", "client_credentials", "session"] = "password"
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

    @model_validator(mode="after")
    def _my_domain_for_client_credentials(self) -> SalesforceAuth:
        if self.method == "client_credentials" and self.domain in ("login", "test"):
            raise ValueError("client_credentials needs your My Domain as domain, e.g. acme.my")
        return self


class SalesforceFields(_Strict):
    """API names of the fields we read and write. Empty string: not used."""

    task_marker: str = "NPS_Sync_Key__c"
    account_tier: str = "Tier__c"
    account_arr: str = "ARR__c"
    account_region: str = "Region__c"
    account_renewal_date: str = "Renewal_Date__c"
    account_domain: str = "Email_Domain__c"
    contact_last_score: str = "NPS_Last_Score__c"
    contact_category: str = "NPS_Category__c"
    contact_last_comment: str = "NPS_Last_Comment__c"
    contact_last_response_date: str = "NPS_Last_Response_Date__c"
    account_nps: str = "NPS_Score__c"
    account_responses: str = "NPS_Responses__c"
    account_revenue_at_risk: str = "NPS_Revenue_At_Risk__c"


MatchStep = Literal["crm_id", "email", "lead", "alias", "domain"]
DEFAULT_MATCH_ORDER: tuple[MatchStep, ...] = ("crm_id", "email", "alias", "domain")


class SalesforceMatching(_Strict):
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

    @field_validator("order")
    @classmethod
    def _once_each(cls, order: list[str]) -> list[str]:
        repeated = sorted({step for step in order if order.count(step) > 1})
        if repeated:
            raise ValueError(f"each step may appear once: {', '.join(repeated)}")
        return order


class SalesforceApi(_Strict):
    """How hard we use the org's API."""

    #: Share of the daily API allowance left to other integrations; a run stops at this line.
    reserve: float = Field(0.2, ge=0.0, lt=1.0)
    #: Updates of more records than this (of one object) go through Bulk API 2.0; 0: never.
    bulk_threshold: int = Field(2000, ge=0)
    #: First wait before polling a Bulk job, in seconds.
    bulk_poll_seconds: float = Field(2.0, gt=0.0)


class SalesforceConfig(_Strict):
    instance_url: str
    api_version: str = "59.0"
    auth: SalesforceAuth = SalesforceAuth()
    fields: SalesforceFields = SalesforceFields()
    matching: SalesforceMatching = SalesforceMatching()
    api: SalesforceApi = SalesforceApi()
    fallback_owner_id: str | None = None
    timeout_seconds: float = 30.0


class ZendeskAuth(_Strict):
    email: str | None = None
    token: Secret | None = None
    oauth_token: Secret | None = None


class ZendeskFields(_Strict):
    """Custom field names: ticket field titles, user and organization field keys ("" = off)."""

    ticket_score: str = "NPS Score"
    ticket_category: str = "NPS Category"
    ticket_response_link: str = "NPS Response Link"
    ticket_account_arr: str = ""
    ticket_account_tier: str = ""
    user_score: str = "nps_score"
    user_category: str = "nps_category"
    user_date: str = "nps_date"
    organization_nps: str = "nps_account_score"


OrganizationSource = Literal["user", "external_id", "domain"]


class ZendeskMatching(_Strict):
    """How a requester's Zendesk organization is found, first source that answers wins.

    ``user``: the organization the user belongs to; ``external_id``: the organization whose
    external id is the matched Salesforce account id; ``domain``: ``organization_domains``.
    """

    organization_from: tuple[OrganizationSource, ...] = ("user", "external_id", "domain")
    #: Email domain -> organization name (resolved to an id at start-up).
    organization_domains: dict[str, str] = Field(default_factory=dict)


class ZendeskTickets(_Strict):
    """How NPS tickets are written."""

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

    @field_validator("context_template")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value:
            from rules.templates import TemplateSourceError, compile_template

            try:
                compile_template(value)
            except TemplateSourceError as exc:
                raise ValueError(f"context_template: {exc.message}") from None
        return value


class ZendeskRateLimit(_Strict):
    """Waiting on Zendesk's per-minute rate limit without parking the scheduler thread."""

    #: Seconds per minute a pass may sleep on ``Retry-After`` / an exhausted minute budget;
    #: a longer wait defers the work to the next run.
    wait_budget_seconds: float = Field(10.0, ge=0)
    #: Requests per minute left to other integrations on the account.
    reserve_requests: int = Field(0, ge=0)


class ZendeskTracking(_Strict):
    """Following our tickets' status through the incremental ticket export."""

    enabled: bool = True
    #: Export pages read per pass (Zendesk allows 10 export requests a minute).
    max_pages_per_pass: int = Field(5, ge=1, le=10)


class ZendeskConfig(_Strict):
    subdomain: str
    domain: str = "zendesk.com"
    auth: ZendeskAuth = ZendeskAuth()
    fields: ZendeskFields = ZendeskFields()
    timeout_seconds: float = 30.0
    matching: ZendeskMatching = ZendeskMatching()
    tickets: ZendeskTickets = ZendeskTickets()
    rate_limit: ZendeskRateLimit = ZendeskRateLimit()
    tracking: ZendeskTracking = ZendeskTracking()


class MetricsConfig(_Strict):
    """How account metrics are computed (see :mod:`sync.fields.metrics` for the formulas)."""

    window_days: int = Field(180, ge=1)
    #: An account whose rolling NPS is below this counts its whole ARR as at risk.
    at_risk_below: float = 0.0
    # -- write-back metrics (sync/fields/metrics.py, sync/fields/fieldmap.py) --------------------
    #: ``below_threshold``: the whole ARR when the NPS is below ``at_risk_below``, else 0;
    #: ``detractor_share``: the ARR times the account's share of detractors in the window.
    revenue_at_risk: Literal["below_threshold", "detractor_share"] = "below_threshold"
    #: Weigh each counted response by 0.5 ** (age / half-life); unset: every response weighs 1.
    decay_half_life_days: float | None = Field(None, gt=0)
    #: Fewer respondents than this in the window sets the small-sample flag.
    small_sample_below: int = Field(5, ge=0)
    #: No response at all for this many days sets the stale flag.
    stale_after_days: int = Field(180, ge=1)
    #: Contact field that marks key contacts (for key-contact coverage); "" turns it off.
    key_contact_field: str = Field("", pattern=r"^([A-Za-z][A-Za-z0-9_]*)?$")
    #: Values of ``key_contact_field`` that make a key contact; empty: the field is a checkbox.
    key_contact_values: tuple[str, ...] = ()


# -- write_back: which metric goes into which field ---------------------------------------------
# A metric left unset takes its default (the legacy ``salesforce.fields``/``zendesk.fields`` name
# for the fields nps-sync always wrote, otherwise off); "" turns a metric off; a name turns it on.


class ContactFieldMap(_Strict):
    """Salesforce Contact field API name per contact metric."""

    last_score: str | None = None
    category: str | None = None
    comment: str | None = None
    response_date: str | None = None
    previous_score: str | None = None
    change: str | None = None
    responses: str | None = None
    survey_type: str | None = None
    channel: str | None = None
    link: str | None = None


class AccountFieldMap(_Strict):
    """Salesforce Account field API name per account metric."""

    nps: str | None = None
    respondents: str | None = None
    coverage: str | None = None
    key_contact_coverage: str | None = None
    trend: str | None = None
    last_response_date: str | None = None
    detractors: str | None = None
    small_sample: str | None = None
    stale: str | None = None
    revenue_at_risk: str | None = None
    days_to_renewal: str | None = None


class UserFieldMap(_Strict):
    """Zendesk user field key per contact metric."""

    last_score: str | None = None
    category: str | None = None
    comment: str | None = None
    response_date: str | None = None
    previous_score: str | None = None
    change: str | None = None
    responses: str | None = None
    link: str | None = None


class OrganizationFieldMap(_Strict):
    """Zendesk organization field key per account metric."""

    nps: str | None = None
    respondents: str | None = None
    coverage: str | None = None
    trend: str | None = None
    last_response_date: str | None = None
    detractors: str | None = None
    small_sample: str | None = None
    stale: str | None = None
    revenue_at_risk: str | None = None


class SalesforceWriteBack(_Strict):
    contact: ContactFieldMap = ContactFieldMap()
    account: AccountFieldMap = AccountFieldMap()


class ZendeskWriteBack(_Strict):
    user: UserFieldMap = UserFieldMap()
    organization: OrganizationFieldMap = OrganizationFieldMap()


class HistoryFieldMap(_Strict):
    """Fields of the per-response history object; "" leaves one out."""

    contact: str = "Contact__c"
    account: str = "Account__c"
    score: str = "Score__c"
    category: str = "Category__c"
    comment: str = "Comment__c"
    responded_at: str = "Responded_At__c"
    survey_type: str = "Survey_Type__c"
    channel: str = "Channel__c"
    link: str = "Link__c"


class HistoryConfig(_Strict):
    """One Salesforce record per response, upserted by its external id (off by default)."""

    enabled: bool = False
    object: str = "NPS_Response__c"
    external_id: str = "Response_Id__c"
    fields: HistoryFieldMap = HistoryFieldMap()


class WriteBackConfig(_Strict):
    """Field mapping of the write-back stage (``nps-sync fields setup`` prints what to create)."""

    salesforce: SalesforceWriteBack = SalesforceWriteBack()
    zendesk: ZendeskWriteBack = ZendeskWriteBack()
    history: HistoryConfig = HistoryConfig()
    #: Comment length when Salesforce describe does not tell (and for Zendesk).
    comment_length: int = Field(1000, ge=1, le=131072)


class BusinessHoursConfig(_Strict):
    """Business hours for escalation steps with ``business_hours: true``: Monday to Friday."""

    timezone: str = "UTC"
    start_hour: int = Field(9, ge=0, le=23)
    end_hour: int = Field(17, ge=1, le=24)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
            raise ValueError(message) from None
        return name


class EmailConfig(_Strict):
    """The SMTP server ``notify`` actions with ``channel: email`` send through."""

    host: str
    port: int = 587
    #: starttls: upgrade a plain connection (port 587); tls: TLS from the start (465); none.
    security: Literal["starttls", "tls", "none"] = "starttls"
    sender: str
    username: str | None = None
    password: Secret | None = None
    timeout_seconds: float = 30.0


class Config(_Strict):
    state: StateConfig = StateConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    salesforce: SalesforceConfig
    zendesk: ZendeskConfig
    rules: Path
    metrics: MetricsConfig = MetricsConfig()
    write_back: WriteBackConfig = WriteBackConfig()
    business_hours: BusinessHoursConfig = BusinessHoursConfig()
    #: SMTP for email notifications; without it, email ``notify`` actions fail (dead-letter list).
    email: EmailConfig | None = None
    #: Public origin -> loopback origin. Points the real clients at local emulators (demo, tests).
    loopback_routes: dict[str, str] = Field(default_factory=dict)
    batch_size: int = Field(200, ge=1, le=2000)
    #: Failures before an action goes to the dead-letter list (``nps-sync failed list``).
    max_attempts: int = Field(8, ge=1)
    #: How long a worker owns a claimed action; a crashed worker's claims free up after this.
    lease_seconds: int = Field(300, ge=1)
    #: First delay before retrying a failed action; it doubles per failure, up to an hour.
    retry_backoff_seconds: float = Field(30.0, gt=0)

    @field_validator("loopback_routes")
    @classmethod
    def _loopback_only(cls, routes: dict[str, str]) -> dict[str, str]:
        for target in routes.values():
            if not target.startswith(("http://127.", "http://localhost", "http://[::1]")):
                raise ValueError(f"loopback_routes may only point at loopback, not {target}")
        return routes

    @property
    def poll_interval(self) -> timedelta:
        return timedelta(seconds=self.schedule.poll_interval_seconds)


def load_config(path: Path) -> Config:
    """Read, validate and resolve relative paths of a config file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read config: {exc.strerror}") from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigFileError(f"{where}: {exc.problem}") from exc
    if not isinstance(data, dict):
        raise ConfigFileError(f"{path}:1:1: the config must be a mapping")
    try:
        config = Config.model_validate(_plain(data))
    except ValidationError as exc:
        lines = [f"{path}:{_position(data, err['loc'])}: {_message(err)}" for err in exc.errors()]
        raise ConfigFileError("\n".join(lines)) from exc
    return _resolve_paths(config, path.parent)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _position(data: Any, loc: tuple[int | str, ...]) -> str:
    """line:col of the deepest node of ``loc`` that exists in the parsed YAML."""
    node, line, col = data, 0, 0
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line, col = lc.key(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                if lc is not None:
                    line, col = lc.item(part)
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError):
            break
    return f"{line + 1}:{col + 1}"


def _message(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("delighted", "file")))
    if err["type"] == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}'"
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def _resolve_paths(config: Config, base: Path) -> Config:
    def rel(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    sources: list[DelightedSourceConfig | FileSourceConfig] = [
        s.model_copy(update={"path": rel(s.path)}) if isinstance(s, FileSourceConfig) else s
        for s in config.sources
    ]
    state_url = config.state.url
    prefix = "sqlite:///"
    if state_url.startswith(prefix) and not state_url.startswith(prefix + "/"):
        relative = state_url[len(prefix) :]
        if relative and relative != ":memory:":
            state_url = prefix + str(rel(Path(relative)))
    return config.model_copy(
        update={
            "rules": rel(config.rules),
            "sources": sources,
            "state": StateConfig(url=state_url),
        }
    )
