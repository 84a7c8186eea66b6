"""The config file's top level and its smaller sections; cross-section checks run at the root.

The Salesforce and Zendesk sections are in their own modules, ``write_back`` too (it is generated
from the metric catalogue); :mod:`sync.core.config.checks` holds the checks that compare
sections, which :class:`Config` runs once every section is valid.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from connectors.models import MAX_SOURCE_NAME_CHARS
from connectors.transport import is_loopback_origin
from sync.core.config.base import Duration, Issue, Section, invalid
from sync.core.config.salesforce import SalesforceConfig
from sync.core.config.secrets import Secret
from sync.core.config.writeback import WriteBackConfig
from sync.core.config.zendesk import ZendeskConfig


class StateConfig(Section):
    url: str = "sqlite:///nps-sync-state.db"

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        """A file-backed SQLite database or PostgreSQL through psycopg 3, the two stores the
        schema is written and tested for; ``postgresql://`` means the latter."""
        scheme, sep, rest = value.partition("://")
        if scheme in ("postgresql", "postgres") and sep:
            return f"postgresql+psycopg://{rest}"
        if scheme == "postgresql+psycopg" and rest:
            return value
        if scheme == "sqlite" and rest.startswith("/") and rest.strip("/") not in ("", ":memory:"):
            return value
        if scheme == "sqlite":
            raise ValueError(
                "an SQLite state needs a file: sqlite:///relative/path.db or "
                "sqlite:////absolute/path.db (an in-memory database forgets everything, and "
                "every connection of a pass would see another one)"
            )
        raise ValueError(
            f"not a supported state database URL (scheme {scheme or value[:20]!r}): use "
            "sqlite:///path/to/state.db or postgresql+psycopg://user@host:5432/dbname"
        )


def _crontab(value: str) -> str:
    """``value`` when it is a crontab line (minute hour day month weekday, UTC) or empty.

    The weekday field must use names (``mon``, ``mon-fri``) or ``*``: the scheduler counts
    numbered weekdays from Monday = 0, where crontab starts on Sunday, so a number would run a
    day late."""
    fields = value.split()
    if len(fields) == 5 and any(c.isdigit() for c in fields[4]):
        raise ValueError(
            f"write the weekday by name, not {fields[4]!r} (mon, tue, ... or mon-fri): numbered "
            "weekdays are read from Monday = 0, not crontab's Sunday = 0"
        )
    if value.strip():
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            message = f"not a crontab line (minute hour day month weekday): {exc}"
            raise ValueError(message) from None
    return value


class ScheduleConfig(Section):
    """When the daemon's jobs run: poll the sources, drain the outbox, reconcile fields."""

    poll_interval_seconds: int = Field(300, ge=10)
    drain_interval_seconds: int = Field(60, ge=5)
    #: Crontab (minute hour day month weekday, UTC) of the reconciliation; "" turns it off.
    reconcile_cron: str = "0 3 * * *"

    @field_validator("reconcile_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return _crontab(value)


#: A source's name keys its cursor and its responses in the state store, so it must fit there.
SourceName = Annotated[str, Field(min_length=1, max_length=MAX_SOURCE_NAME_CHARS)]


class DelightedSourceConfig(Section):
    type: Literal["delighted"]
    name: SourceName = "delighted"
    api_key: Secret
    base_url: str = "https://api.delighted.com"
    per_page: int = Field(100, ge=1, le=100)
    #: Time slices of a long span (a first sync, a backfill) read at once, each page after page;
    #: 1 reads the whole span page after page.
    page_streams: int = Field(4, ge=1, le=16)
    #: What Delighted signs this account's webhooks with; unset: the API key (Delighted's rule).
    webhook_secret: Secret | None = None

    def signing_secret(self) -> str:
        """The key the receiver checks ``X-Delighted-Webhook-Signature`` against."""
        secret = self.webhook_secret or self.api_key
        what = "webhook_secret" if self.webhook_secret else "api_key"
        return secret.resolve(f"sources.{self.name}.{what}")


class TypeformHiddenFields(Section):
    """Which hidden fields of the form carry who answered (``name`` and the ids are optional);
    every other hidden field is kept as a response property under its own name."""

    email: str = "email"
    name: str | None = "name"
    salesforce_contact_id: str | None = None
    salesforce_account_id: str | None = None
    zendesk_user_id: str | None = None
    ticket_id: str | None = None


class TypeformSourceConfig(Section):
    type: Literal["typeform"]
    name: SourceName = "typeform"
    form_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    #: A personal access token with the ``responses:read`` scope.
    token: Secret
    #: The secret set on the form's webhook (Connect > Webhooks); needed for webhooks only.
    webhook_secret: Secret | None = None
    base_url: str = "https://api.typeform.com"
    page_size: int = Field(1000, ge=1, le=1000)
    #: The ref of the 0-10 question (an opinion scale or NPS question).
    score_ref: str = Field(min_length=1)
    #: The ref of the question asking why (a text question); unset: no comment.
    comment_ref: str | None = None
    hidden: TypeformHiddenFields = TypeformHiddenFields()
    #: Re-read this much before the cursor each pass: the listing can show a response a while
    #: after it was submitted, and one listed late must not fall behind the cursor.
    lookback_seconds: int = Field(1800, ge=0, le=7 * 86_400)

    def signing_secret(self) -> str | None:
        """The secret ``Typeform-Signature`` is checked against; None: no webhooks accepted."""
        if self.webhook_secret is None:
            return None
        return self.webhook_secret.resolve(f"sources.{self.name}.webhook_secret")


class FileSourceConfig(Section):
    type: Literal["file"]
    path: Path
    name: SourceName | None = None


SourceConfig = Annotated[
    DelightedSourceConfig | TypeformSourceConfig | FileSourceConfig, Field(discriminator="type")
]


class WebhooksConfig(Section):
    """The webhook receiver of ``nps-sync run --listen`` (off unless an address is given)."""

    #: ``HOST:PORT`` to listen on (``--listen`` overrides it); unset: no receiver.
    listen: str | None = Field(None, pattern=r"^\[?[^\s\]]*\]?:\d{1,5}$")

    @field_validator("listen")
    @classmethod
    def _a_port(cls, value: str | None) -> str | None:
        if value is not None and not 0 < int(value.rsplit(":", 1)[1]) <= 65535:
            raise ValueError(f"{value!r}: a port is 1 to 65535")
        return value

    #: Larger request bodies are answered 413 unread: a survey response is a few KiB.
    max_body_bytes: int = Field(256 * 1024, ge=1024, le=16 * 1024 * 1024)
    #: A signed request seen again within this window is answered from memory, not stored again
    #: (vendors retry; a captured request replayed later is stored once by the inbox anyway).
    replay_window_seconds: int = Field(600, ge=1)
    #: The ``Retry-After`` of a 503 when the state store cannot take a webhook now.
    retry_after_seconds: int = Field(30, ge=1)
    #: A body not received whole within this many seconds is answered 408: a client sending a
    #: few bytes a minute would otherwise hold its connection for as long as it likes.
    body_timeout_seconds: float = Field(10.0, gt=0, le=300)
    #: A connection whose request headers are not received whole within this many seconds of
    #: its opening (or of its previous response) is closed: clients that open connections and
    #: send nothing, or a byte now and then, cannot crowd out the vendors' webhooks.
    header_timeout_seconds: float = Field(10.0, gt=0, le=300)


class LoggingConfig(Section):
    """How commands write their logs on stderr (``--log-format`` overrides it)."""

    #: ``text``: a line for people; ``json``: one redacted JSON object per line, for pipelines.
    format: Literal["text", "json"] = "text"


class MetricsConfig(Section):
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
    #: Report revenue at risk for small-sample accounts too; off: such accounts report none
    #: (the field is left empty), since one answer does not put the whole ARR at risk.
    revenue_at_risk_small_sample: bool = False
    #: No response at all for this many days sets the stale flag.
    stale_after_days: int = Field(180, ge=1)
    #: Contact field that marks key contacts (for key-contact coverage); "" turns it off.
    key_contact_field: str = Field("", pattern=r"^([A-Za-z][A-Za-z0-9_]*)?$")
    #: Values of ``key_contact_field`` that make a key contact; empty: the field is a checkbox.
    key_contact_values: tuple[str, ...] = ()


class RoutingConfig(Section):
    """What the route stage acts on."""

    #: Responses submitted longer ago than this when they are routed are stored, matched and
    #: counted in the NPS fields, but create no action: a first run over a year of history, or a
    #: daemon back after weeks down, does not call customers about old answers.
    act_on_responses_newer_than: Duration = timedelta(days=14)

    @field_validator("act_on_responses_newer_than")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration like 14d (0 would never act at all)")
        return value


class TextConfig(Section):
    """Comment text analytics: sentiment and taxonomy themes of every comment, as routing
    fields (``sentiment``, ``themes``, ``emerging``), computed once per response version."""

    enabled: bool = False
    #: The YAML taxonomy of themes (name, description, examples); relative to the config file.
    taxonomy: Path | None = None
    #: ``minilm``: the sentence-embedding model (``nps-sync[text-model]``); ``lexicon``: none;
    #: ``auto``: the model when it is installed.
    model: Literal["auto", "minilm", "lexicon"] = "auto"

    @model_validator(mode="after")
    def _taxonomy_named(self) -> TextConfig:
        if self.enabled and self.taxonomy is None:
            raise invalid([Issue(("taxonomy",), "text analytics need a taxonomy file", "key")])
        return self


class BusinessHoursConfig(Section):
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

    @model_validator(mode="after")
    def _opens_before_it_closes(self) -> BusinessHoursConfig:
        if self.start_hour >= self.end_hour:
            message = (
                f"must be after start_hour ({self.start_hour}); business hours run from start "
                "to end within one day"
            )
            raise invalid([Issue(("end_hour",), message)])
        return self


class LoopSla(Section):
    """Deadlines for the loop of the responses it applies to: the first entry whose filters all
    match (``rule`` matched the response, the account ``tier``, the score ``category``) counts.
    Both deadlines run from when the customer answered."""

    rule: str | None = None
    tier: str | None = None
    category: Literal["detractor", "passive", "promoter"] | None = None
    #: Time to first contact, and to resolution (the loop ``resolved`` or ``closed``).
    first_contact: Duration | None = None
    resolution: Duration | None = None
    #: Count only business hours (``business_hours`` section).
    business_hours: bool = True
    #: An action of the rules file to run, as an escalation step of the loop's first Task or
    #: ticket, when a deadline passes unmet; ``escalate_before`` runs it that long earlier.
    escalate: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    escalate_before: Duration = timedelta(0)

    @model_validator(mode="after")
    def _some_deadline(self) -> LoopSla:
        if self.first_contact is None and self.resolution is None:
            raise invalid([Issue((), "give first_contact, resolution or both", "key")])
        if (
            self.first_contact is not None
            and self.resolution is not None
            and self.resolution < self.first_contact
        ):
            from rules import format_duration

            first = format_duration(self.first_contact)
            message = f"must not come before first_contact ({first})"
            raise invalid([Issue(("resolution",), message)])
        return self


class LoopMirror(Section):
    """Status mirrored between a response's Task and ticket (both off by default)."""

    #: A solved ticket completes the open Task of the same response, with a note.
    ticket_solved_completes_task: bool = False
    #: A completed Task adds an internal note to the open ticket of the same response.
    task_completed_notes_ticket: bool = False


class LoopSilence(Section):
    """Key accounts that have not answered for a while: a "lack of response" Task for their
    owner, at most once per period (off unless it names which accounts are key)."""

    #: Key accounts: in one of these tiers, with at least this ARR, or with this Account checkbox
    #: set (any of them).
    tiers: tuple[str, ...] = ()
    min_arr: float | None = Field(None, ge=0)
    flag_field: str | None = Field(None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    #: Silent: no response from anyone of the account for this long.
    after: Duration = timedelta(days=90)
    #: At most one Task per account per period (periods are counted from the Unix epoch).
    period: Duration = timedelta(days=30)
    due_in: Duration = timedelta(days=3)
    priority: Literal["High", "Normal", "Low"] = "Normal"
    #: Falling coverage: a key account whose distinct respondents in the last
    #: ``coverage_window`` fell by at least this share (0-1) from the window before gets the
    #: same Task; None: not watched. Only accounts with ``coverage_min_previous`` respondents or
    #: more in the window before count (from 1 to 0 says little).
    coverage_drop: float | None = Field(None, gt=0, le=1)
    coverage_window: Duration = timedelta(days=90)
    coverage_min_previous: int = Field(3, ge=1)

    @property
    def enabled(self) -> bool:
        return bool(self.tiers or self.min_arr is not None or self.flag_field)


class LoopConfig(Section):
    """Following each response's loop (open, contacted, resolved, closed) in its Tasks and
    tickets; ``nps-sync loop report`` reads it."""

    enabled: bool = True
    #: Loops of Tasks and tickets made within this long are followed; older ones stay as they
    #: were last seen (their Tasks are no longer read).
    follow_for: Duration = timedelta(days=90)
    #: Deadlines per rule, tier or category; the first entry that matches a response counts.
    #: By default a detractor is contacted within one working day and the loop resolved within
    #: a working week (business hours), so the loop report, the queue and the digest measure
    #: something from the start; ``sla: []`` sets none.
    sla: tuple[LoopSla, ...] = (
        LoopSla.model_validate(
            {"category": "detractor", "first_contact": "8h", "resolution": "40h"}
        ),
    )
    mirror: LoopMirror = LoopMirror()
    silence: LoopSilence = LoopSilence()


class EmailConfig(Section):
    """The SMTP server ``notify`` actions with ``channel: email`` send through."""

    host: str
    port: int = Field(587, ge=1, le=65535)
    #: starttls: upgrade a plain connection (port 587); tls: TLS from the start (465); none.
    security: Literal["starttls", "tls", "none"] = "starttls"
    #: The From address (``NPS <nps@acme.com>`` or ``nps@acme.com``).
    sender: str

    @field_validator("sender")
    @classmethod
    def _an_address(cls, value: str) -> str:
        from email.utils import parseaddr

        _, address = parseaddr(value)
        local, at, domain = address.partition("@")
        if not (local and at and "." in domain) or any(c.isspace() for c in address):
            raise ValueError(f"not an email address: {value!r} (write nps@acme.com)")
        return value

    username: str | None = None
    password: Secret | None = None
    timeout_seconds: float = 30.0

    @model_validator(mode="after")
    def _login_in_pairs(self) -> EmailConfig:
        if self.password is not None and not self.username:
            raise invalid([Issue(("password",), "an SMTP password needs a username", "key")])
        return self


EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class FrontlineView(Section):
    """Each account owner's call list (``nps-sync queue``), sent by the daemon on a schedule."""

    #: Crontab (UTC; weekdays by name) of the sends; "" (default): not sent. At most one list
    #: per owner and UTC day.
    cron: str = ""
    #: Email each owner their list at the account owner's address (needs the ``email`` section).
    email: bool = True
    #: Owner email -> the environment variable holding the URL of their Slack incoming webhook.
    slack_webhook_envs: dict[str, EnvName] = Field(default_factory=dict)
    #: How far back answers are looked at.
    days: int = Field(30, ge=1, le=3660)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return _crontab(value)


class DigestView(Section):
    """The team leads' weekly digest (``nps-sync digest``), sent by the daemon on a schedule."""

    #: Crontab (UTC; weekdays by name) of the sends; "" (default): not sent. At most one digest
    #: per ISO week.
    cron: str = ""
    email_to: tuple[str, ...] = ()
    #: The environment variable holding the URL of the team's Slack incoming webhook.
    slack_webhook_env: EnvName | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return _crontab(value)


#: The segment attributes every respondent carries (``sync.fields.respondents.ATTRIBUTES``).
BUILT_IN_SEGMENTS = ("tier", "industry", "region", "tenure", "support", "owner")
#: A Salesforce field API name, or a path through up to four relationships (``Parent.Type``).
ACCOUNT_FIELD = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,4}$"


class InsightSegments(Section):
    """What the insight commands and the reports segment respondents by, besides the built-in
    tier, industry, region, tenure, support history and owner."""

    #: Account fields (API names, ``Type``, ``Customer_Health__c``, ``Parent.Industry``) read
    #: from Salesforce for the respondents' accounts when the figures are made, one query per
    #: 200 accounts; each is a segment attribute of its own, named as written here.
    account_fields: tuple[str, ...] = ()
    #: Support history: tickets open when the person answered, or created this many days before.
    recent_ticket_days: int = Field(30, ge=0, le=365)

    @field_validator("account_fields")
    @classmethod
    def _field_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        issues = []
        for i, name in enumerate(names):
            if not re.match(ACCOUNT_FIELD, name):
                issues.append(
                    f"[{i}] {name!r} is not a Salesforce field API name (letters, digits and "
                    "underscores, like Customer_Health__c, or a path like Parent.Type)"
                )
            elif name in BUILT_IN_SEGMENTS or name.lower() == "id":
                issues.append(f"[{i}] {name!r} is a built-in segment or the id: name another field")
            elif name.lower() in (n.lower() for n in names[:i]):
                issues.append(f"[{i}] {name!r} is listed twice")
        if issues:
            raise ValueError("; ".join(issues))
        return names


class InsightsConfig(Section):
    segments: InsightSegments = InsightSegments()


class ViewsConfig(Section):
    frontline: FrontlineView = FrontlineView()
    digest: DigestView = DigestView()


class Config(Section):
    state: StateConfig = StateConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    salesforce: SalesforceConfig
    zendesk: ZendeskConfig
    rules: Path
    metrics: MetricsConfig = MetricsConfig()
    write_back: WriteBackConfig = WriteBackConfig()
    routing: RoutingConfig = RoutingConfig()
    business_hours: BusinessHoursConfig = BusinessHoursConfig()
    loop: LoopConfig = LoopConfig()
    views: ViewsConfig = ViewsConfig()
    insights: InsightsConfig = InsightsConfig()
    text: TextConfig = TextConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    logging: LoggingConfig = LoggingConfig()
    #: SMTP for email notifications; without it, email ``notify`` actions fail (dead-letter list).
    email: EmailConfig | None = None
    #: Public origin -> loopback origin: points the real clients at local emulators (sandbox, demo,
    #: tests). Not a production setting; documented with the sandbox only.
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
            if not is_loopback_origin(target):
                raise ValueError(
                    f"may only point at a loopback origin such as http://127.0.0.1:8080, "
                    f"not {target}"
                )
        return routes

    @model_validator(mode="after")
    def _sections_agree(self) -> Config:
        from sync.core.config.checks import cross_section_issues

        issues = cross_section_issues(self)
        if issues:
            raise invalid(issues)
        return self

    @property
    def poll_interval(self) -> timedelta:
        return timedelta(seconds=self.schedule.poll_interval_seconds)
