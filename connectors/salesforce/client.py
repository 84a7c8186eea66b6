"""The Salesforce connector: a thin, typed wrapper around simple-salesforce.

It speaks our plain records (:mod:`connectors.models`) and raises our error tiers. Every lookup is
batched (one SOQL per up to 200 values, several kinds of key in one query where they share an
object) and every write goes through sObject Collections (200 records per call,
``allOrNone=false``) so one bad record never sinks its batch, or through Bulk API 2.0 above a
configurable size. Two things guard each call:

- the API reserve (:mod:`connectors.salesforce.limits`): no call once the org's daily usage
  reaches the share kept for other integrations;
- session renewal: an expired session is renewed by logging in again, once, and the call is
  repeated (simple-salesforce does this itself for REST calls of password logins, but not for
  Bulk 2.0 or a bare session id).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any, TypeVar

import requests
from more_itertools import chunked
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from connectors.backoff import Backoff
from connectors.errors import (
    ConfigError,
    ConnectorError,
    DeferError,
    RecordError,
    RetryableError,
    UnknownFieldError,
    WriteInDoubtError,
    stopped_part_way,
)
from connectors.models import (
    MAX_TASK_DESCRIPTION,
    Account,
    Contact,
    FieldUpdate,
    Opportunity,
    Queue,
    TaskSpec,
    WriteResult,
)
from connectors.salesforce import errors
from connectors.salesforce.auth import SalesforceCredentials, login
from connectors.salesforce.bulk import (
    BULK_POLL_CAP,
    Polling,
    bulk_update,
    bulk_upsert,
    read_again,
)
from connectors.salesforce.bulk_query import (
    MAX_JOB_QUERY,
    MAX_VALUES_PER_JOB,
    PAGE_RECORDS,
    FieldTypes,
    bulk_query,
    job_failure,
    relationship_field,
)
from connectors.salesforce.describe import FieldInfo, ObjectInfo, parse_object
from connectors.salesforce.job_memo import FinishedJobs
from connectors.salesforce.limits import USAGE_MAX_AGE, ApiReserve, ApiUsage, UsageMeter
from connectors.salesforce.records import (
    LEAD_PREFIX,
    LEAD_SELECT,
    OPPORTUNITY_SELECT,
    QUEUE_PREFIX,
    USER_PREFIX,
    AccountFieldNames,
    AccountLookup,
    ContactLookup,
    TaskState,
    account_select,
    contact_select,
    lead_as_contact,
    record_key,
    task_state,
    to_account,
    to_contact,
    to_opportunity,
    website_host,
)
from connectors.salesforce.soql import (
    format_soql,
    in_batches,
    like_batches,
    or_in_batches,
    quote_soql_value,
)

__all__ = [
    "COLLECTION_SIZE",
    "AccountFieldNames",
    "SalesforceConnector",
    "SalesforceCredentials",
    "connect",
]

COLLECTION_SIZE = 200
T = TypeVar("T")
log = logging.getLogger(__name__)
#: A field's API name, or a path through up to four relationships (``Parent.Owner.Email``).
FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,4}")

#: ``connect`` is the historical name of :func:`connectors.salesforce.auth.login`.
connect = login


class SalesforceConnector:
    """Lookups and writes the engine needs, batched, escaped, guarded and translated."""

    def __init__(
        self,
        sf: Salesforce | None,
        *,
        account_fields: AccountFieldNames | None = None,
        task_marker_field: str = "NPS_Sync_Key__c",
        relogin: Callable[[], Salesforce] | None = None,
        api_reserve: float = 0.0,
        bulk_threshold: int = 0,
        bulk_poll_seconds: float = 0.5,
        query_bulk_threshold: int = 0,
        bulk_query_page: int = PAGE_RECORDS,
    ) -> None:
        """``relogin`` returns a freshly logged-in client (None: the session cannot be renewed);
        ``api_reserve`` is the fraction of the daily allowance left to others; updates of more
        than ``bulk_threshold`` records of one object go through Bulk 2.0 (0: never), and so do
        lookups of more than ``query_bulk_threshold`` values (ids, emails, names; 0: never),
        read ``bulk_query_page`` records per page of results. ``sf`` None: not logged in yet
        (Salesforce could not be reached), which the first call does through ``relogin``."""
        if sf is None and relogin is None:
            raise ValueError("a connector without a client needs a way to log in")
        self._sf = sf
        self.account_fields = account_fields or AccountFieldNames()
        self.task_marker_field = task_marker_field
        self.reserve = ApiReserve(api_reserve)
        self.bulk_threshold = bulk_threshold
        self.query_bulk_threshold = query_bulk_threshold
        self.bulk_query_page = bulk_query_page
        self._described: dict[str, ObjectInfo] = {}
        self._finished_jobs = FinishedJobs()
        self.bulk_poll = Polling(
            Backoff(first=bulk_poll_seconds, factor=1.5, cap=max(BULK_POLL_CAP, bulk_poll_seconds))
        )
        self.logins = 0 if sf is None else 1
        #: Why the latest login failed, while none has succeeded yet (``login_later``).
        self.login_failure: ConnectorError | None = None
        self._relogin = relogin
        self._meter = UsageMeter()
        if sf is not None:
            self._meter.install(sf.session)

    @classmethod
    def connect(
        cls,
        credentials: SalesforceCredentials,
        *,
        session: requests.Session | None = None,
        login_later: bool = False,
        **options: Any,
    ) -> SalesforceConnector:
        """Log in and build a connector that can log in again when its session expires.

        ``login_later``: a login that fails for now (Salesforce unreachable, or answering 5xx)
        builds the connector all the same, to log in at its first call; a pass then does the
        work that needs no Salesforce, and that call fails as any call would while Salesforce
        is down. Refused credentials raise :class:`~connectors.errors.ConfigError` either way.
        """
        relogin = partial(login, credentials, session=session) if credentials.renewable else None
        try:
            sf = login(credentials, session=session)
        except RetryableError as exc:
            if relogin is None or not login_later:
                raise
            log.warning("Salesforce login failed for now, tried again at the first call: %s", exc)
            connector = cls(None, relogin=relogin, **options)
            connector.login_failure = exc
            return connector
        return cls(sf, relogin=relogin, **options)

    @property
    def sf(self) -> Salesforce:
        """The logged-in simple-salesforce client (logging in first, if no login succeeded yet:
        a failure raises by its tier, as any call's does)."""
        if self._sf is None:
            assert self._relogin is not None  # checked in __init__
            try:
                self._install(self._relogin())
            except ConnectorError as exc:
                self.login_failure = exc
                raise
            self.login_failure = None
        assert self._sf is not None
        return self._sf

    @property
    def logged_in(self) -> bool:
        """Whether a login succeeded (False only while a connector made with ``login_later``
        has not reached Salesforce yet)."""
        return self._sf is not None

    def log_in(self) -> None:
        """Log in now if no login succeeded yet (a failure raises by its tier)."""
        if self._sf is None:
            self._call(lambda: self.sf)

    def _install(self, sf: Salesforce) -> None:
        self._sf = sf
        self.logins += 1
        self._meter.install(sf.session)

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, fn: Callable[[], T], *, creates: bool = False) -> T:
        """Run one call (or one Bulk job) under the reserve check, renewing an expired session.

        ``creates``: the call inserts records, so a failure after the request was sent is a
        :class:`~connectors.errors.WriteInDoubtError` (the records may exist, or soon).
        """
        self.reserve.check(self._meter.fresh(USAGE_MAX_AGE))
        try:
            return fn()
        except errors.CALL_ERRORS as exc:
            if not errors.is_expired_session(exc):
                raise self._translate(exc, creates) from exc
            self._renew_session(exc)
        try:
            return fn()
        except errors.CALL_ERRORS as exc:
            if errors.is_expired_session(exc):
                raise ConfigError(
                    "Salesforce rejected a session right after a fresh login; check the "
                    "integration user's session settings (IP restrictions, session policies)",
                    system=errors.SYSTEM,
                ) from exc
            raise self._translate(exc, creates) from exc

    def _translate(self, exc: BaseException, creates: bool = False) -> ConnectorError:
        """Our tier for ``exc``, with the refused answer's ``Retry-After`` when it had one."""
        translated = errors.translate_write(exc) if creates else errors.translate(exc)
        retry_after = self._meter.take_retry_after()
        if isinstance(translated, RetryableError) and translated.retry_after is None:
            translated.retry_after = retry_after
        return translated

    def _renew_session(self, cause: BaseException) -> None:
        if self._relogin is None:
            raise ConfigError(
                "the Salesforce session id has expired and cannot be renewed; give a fresh "
                "one or use the password, jwt or client_credentials method",
                system=errors.SYSTEM,
            ) from cause
        try:
            sf = self._relogin()
        except errors.CLIENT_ERRORS as exc:
            raise errors.translate(exc) from exc
        self._install(sf)

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every record of ``soql``, page by page (``nextRecordsUrl``); a later page is asked
        again after a transient failure, as a Bulk job's reads are, so a failure on the fifth
        page does not make the caller read the first four again."""
        page = self._call(lambda: self.sf.query(soql))
        records = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = self._call(partial(read_again, self.bulk_poll, partial(self._more, page)))
            records.extend(page.get("records", []))
        return records

    def _more(self, page: Mapping[str, Any]) -> dict[str, Any]:
        """The page after ``page``, on the current session (renewed, it is a new client)."""
        more: dict[str, Any] = self.sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
        return more

    def select_in(
        self, object_type: str, select_from: str, clauses: Mapping[str, Sequence[str]]
    ) -> list[dict[str, Any]]:
        """Records of ``select_from WHERE f1 IN (..) OR f2 IN (..)``, each value escaped.

        Up to ``query_bulk_threshold`` values go as REST queries of 200 values each; more go
        as Bulk 2.0 query jobs of up to 4,000 values each, whose records come back in the same
        shape (:mod:`connectors.salesforce.bulk_query`); when one job fails, a retry of the
        same lookup soon after runs only the jobs that did not finish (:mod:`.job_memo`).
        """
        wanted = sum(len(set(values)) for values in clauses.values())
        if self.query_bulk_threshold and wanted > self.query_bulk_threshold:
            batches = or_in_batches(
                select_from, clauses, max_values=MAX_VALUES_PER_JOB, max_encoded=MAX_JOB_QUERY
            )
            return self._finished_jobs.run(
                [soql for soql, _ in batches], partial(self.bulk_query, object_type)
            )
        batches = or_in_batches(select_from, clauses)
        return [rec for soql, _ in batches for rec in self.query_all(soql)]

    def bulk_query(self, object_type: str, soql: str) -> list[dict[str, Any]]:
        """The records of ``soql`` read by one Bulk 2.0 query job, shaped as REST answers them;
        a job that fails raises by the tier of the code in its message (else retry)."""
        types = self._field_types(object_type)

        def run() -> list[dict[str, Any]]:
            try:
                return bulk_query(
                    self.sf, soql, types, poll=self.bulk_poll, page_records=self.bulk_query_page
                )
            except SalesforceOperationError as exc:
                raise job_failure(str(exc).removeprefix("Job failure. Response content: ")) from exc

        return self._call(run)

    def _described_object(self, sobject: str) -> ObjectInfo:
        if sobject not in self._described:
            self._described[sobject] = self.describe(sobject)
        return self._described[sobject]

    def _field_types(self, object_type: str) -> FieldTypes:
        """The describe type of each column of a Bulk result (``Account.Owner.Email``), through
        the describes of the objects on the way (each described once per connector)."""

        def field_type(column: str) -> str | None:
            *hops, name = column.split(".")
            objects = [object_type]
            for hop in hops:
                info = self._described_object(objects[0]) if objects else None
                reference = _reference_field(info, hop) if info else None
                objects = list(reference.reference_to) if reference else []
            for sobject in objects:
                found = self._described_object(sobject).field(name)
                if found is not None:
                    return found.type
            return None

        return field_type

    @property
    def usage(self) -> ApiUsage | None:
        """The org's API usage from the latest ``Sforce-Limit-Info`` header seen, if any."""
        return self._meter.latest

    def api_usage(self) -> tuple[int, int] | None:
        """(used, allowance) from the last ``Sforce-Limit-Info`` header seen, if any."""
        usage = self._meter.latest
        return None if usage is None else (usage.used, usage.allowance)

    def describe(self, sobject: str) -> ObjectInfo:
        """The fields of ``sobject`` (an unknown object raises RecordError ``NOT_FOUND``)."""
        raw = self._call(lambda: getattr(self.sf, sobject).describe())
        return parse_object(raw)

    # -- lookups -------------------------------------------------------------------------------
    def find_contacts(
        self, *, ids: Iterable[str] = (), emails: Iterable[str] = ()
    ) -> ContactLookup:
        """Contacts by id and by email, ids and emails sharing the same queries."""
        keys = sorted({key for key in map(record_key, ids) if key})
        wanted = sorted({e.lower() for e in emails if e})
        select = f"SELECT {', '.join(contact_select(self.account_fields))} FROM Contact"
        found = ContactLookup()
        for rec in self.select_in("Contact", select, {"Id": keys, "Email": wanted}):
            contact = to_contact(rec, self.account_fields)
            found.by_id[contact.id[:15]] = contact
            if contact.email in wanted:
                found.by_email.setdefault(contact.email, []).append(contact)
        for contacts in found.by_email.values():
            contacts.sort(key=lambda c: c.id)
        return found

    def find_contacts_by_email(self, emails: Iterable[str]) -> dict[str, list[Contact]]:
        """Contacts per lower-cased email; several contacts may share one email."""
        return self.find_contacts(emails=emails).by_email

    def find_leads_by_email(self, emails: Iterable[str]) -> dict[str, list[Contact]]:
        """Unconverted Leads per lower-cased email, as contacts without an account."""
        template = (
            f"SELECT {', '.join(LEAD_SELECT)} FROM Lead "
            "WHERE IsConverted = false AND Email IN {values}"
        )
        found: dict[str, list[Contact]] = {}
        for soql, _ in in_batches(template, sorted({e.lower() for e in emails if e})):
            for rec in self.query_all(soql):
                lead = lead_as_contact(rec)
                found.setdefault(lead.email, []).append(lead)
        for leads in found.values():
            leads.sort(key=lambda c: c.id)
        return found

    def find_accounts(self, account_ids: Iterable[str]) -> dict[str, Account]:
        """Accounts by their (18-character) id."""
        return {a.id: a for a in self.find_accounts_by(ids=account_ids).by_id.values()}

    def find_accounts_by(
        self,
        *,
        ids: Iterable[str] = (),
        names: Iterable[str] = (),
        domains: Iterable[str] = (),
    ) -> AccountLookup:
        """Accounts by id, exact name (case-insensitive) and email domain, in shared queries.

        The domain is matched against the configured domain field, or inside Website when no
        such field is configured.
        """
        names_ = self.account_fields
        domain_field = names_.domain
        keys = sorted({key for key in map(record_key, ids) if key})
        wanted_names = sorted({n.strip() for n in names if n.strip()})
        wanted_domains = sorted({d.lower() for d in domains if d})
        select = f"SELECT {', '.join(account_select(names_))} FROM Account"
        clauses: dict[str, Sequence[str]] = {"Id": keys, "Name": wanted_names}
        if domain_field:
            clauses[domain_field] = wanted_domains
        found = AccountLookup()
        records = self.select_in("Account", select, clauses)
        if not domain_field and wanted_domains:
            for soql, _ in like_batches(select, "Website", wanted_domains):
                records.extend(self.query_all(soql))
        lowered_names = {n.lower() for n in wanted_names}
        seen: set[tuple[str, str, str]] = set()
        for rec in records:
            account = to_account(rec, names_)
            found.by_id[account.id[:15]] = account
            name = account.name.lower()
            if name in lowered_names and ("name", name, account.id) not in seen:
                seen.add(("name", name, account.id))
                found.by_name.setdefault(name, []).append(account)
            raw = str(rec.get(domain_field) or "") if domain_field else account.website
            domain = raw.strip().lower() if domain_field else website_host(raw)
            if domain in wanted_domains and ("domain", domain, account.id) not in seen:
                seen.add(("domain", domain, account.id))
                found.by_domain.setdefault(domain, []).append(account)
        for group in (*found.by_name.values(), *found.by_domain.values()):
            group.sort(key=lambda a: a.id)
        return found

    def described_fields(self, sobject: str, names: Sequence[str]) -> dict[str, FieldInfo | None]:
        """What describe says of each of ``names`` on ``sobject``; None for a field it lacks, or
        the integration user cannot see (and for a name that is not an API name). A name the
        cached describe lacks is looked for again in a fresh one: an admin may have just added
        the field."""
        fit = [n for n in names if FIELD_PATH.fullmatch(n) and "." not in n]
        if any(self._described_object(sobject).field(n) is None for n in fit):
            self._described.pop(sobject, None)
        described = self._described_object(sobject) if fit else None
        return {n: described.field(n) if described and n in fit else None for n in names}

    def read_custom_fields(
        self, *, account: Sequence[str] = (), contact: Sequence[str] = ()
    ) -> None:
        """Read these Account and Contact fields with every lookup from now on (routing's
        custom fields; each lookup's ``custom`` values). A field the object lacks raises
        ConfigError naming it, and the lookups stay as they were."""
        names = self.account_fields
        wanted = (tuple(dict.fromkeys(account)), tuple(dict.fromkeys(contact)))
        if wanted == (names.account_custom, names.contact_custom):
            return
        problems = [
            f"{sobject} has no field {', '.join(missing)}"
            for sobject, fields in (("Account", wanted[0]), ("Contact", wanted[1]))
            if (missing := [n for n, f in self.described_fields(sobject, fields).items() if not f])
        ]
        if problems:
            raise ConfigError(
                f"{'; '.join(problems)} (or the integration user cannot see it)",
                system=errors.SYSTEM,
            )
        self.account_fields = replace(names, account_custom=wanted[0], contact_custom=wanted[1])

    def account_values(
        self, account_ids: Iterable[str], fields: Sequence[str]
    ) -> dict[str, dict[str, str]]:
        """The values of Account ``fields`` (API names, or relationship paths such as
        ``Parent.Type``) of these accounts, one query per 200 accounts: field -> value as text
        ("" when empty) by the 15-character key of each account's id.

        A plain field name the Account does not have raises ConfigError naming it, before any
        query; a path is checked by Salesforce when it runs the query.
        """
        names = list(dict.fromkeys(fields))
        unfit = [n for n in names if not FIELD_PATH.fullmatch(n)]
        if unfit:  # names go into the SELECT list as they are: only API names get there
            raise ConfigError(
                f"not a field API name: {', '.join(map(repr, unfit))}", system=errors.SYSTEM
            )
        keys = sorted({key for key in map(record_key, account_ids) if key})
        if not names or not keys:
            return {}
        account = self._described_object("Account")
        missing = [n for n in names if "." not in n and account.field(n) is None]
        if missing:
            raise UnknownFieldError(
                f"Account has no field {', '.join(missing)} (or the integration user cannot "
                "see it)",
                system=errors.SYSTEM,
            )
        select = f"SELECT Id, {', '.join(n for n in names if n.lower() != 'id')} FROM Account"
        found: dict[str, dict[str, str]] = {}
        for rec in self.select_in("Account", select, {"Id": keys}):
            found[str(rec["Id"])[:15]] = {n: _field_text(rec, n) for n in names}
        return found

    def key_accounts(
        self,
        *,
        tiers: Sequence[str] = (),
        min_arr: float | None = None,
        flag_field: str | None = None,
    ) -> list[Account]:
        """Accounts in one of ``tiers``, with an ARR of at least ``min_arr`` or with the
        checkbox ``flag_field`` set (any of them); none when nothing is asked for."""
        names_ = self.account_fields
        clauses: list[str] = []
        if tiers and names_.tier:
            clauses.append(format_soql(f"{names_.tier} IN {{}}", sorted(set(tiers))))
        if min_arr is not None and names_.arr:
            clauses.append(format_soql(f"{names_.arr} >= {{}}", float(min_arr)))
        if flag_field:
            clauses.append(f"{flag_field} = true")
        if not clauses:
            return []
        select = f"SELECT {', '.join(account_select(names_))} FROM Account"
        records = self.query_all(f"{select} WHERE {' OR '.join(clauses)} ORDER BY Id")
        return [to_account(rec, names_) for rec in records]

    def search_accounts(self, fragments: Iterable[str], *, limit: int = 50) -> list[Account]:
        """Accounts whose name, domain field or Website contains one of ``fragments``
        (case-insensitive), at most ``limit`` per query: candidates to suggest, not a match.

        Wildcards in a fragment match only themselves; one query per field and 50 fragments.
        """
        names_ = self.account_fields
        wanted = sorted({f.strip() for f in fragments if f.strip()})
        select = f"SELECT {', '.join(account_select(names_))} FROM Account"
        found: dict[str, Account] = {}
        for field in ("Name", names_.domain or "Website"):
            for soql, _ in like_batches(select, field, wanted):
                for rec in self.query_all(f"{soql} ORDER BY Id LIMIT {limit}"):
                    account = to_account(rec, names_)
                    found[account.id] = account
        return sorted(found.values(), key=lambda a: a.id)

    def count_contacts(self, account_ids: Iterable[str]) -> dict[str, int]:
        """Number of contacts per account (for coverage)."""
        template = "SELECT AccountId, Id FROM Contact WHERE AccountId IN {values}"
        counts: dict[str, int] = {}
        for soql, _ in in_batches(template, list(account_ids)):
            for rec in self.query_all(soql):
                counts[rec["AccountId"]] = counts.get(rec["AccountId"], 0) + 1
        return counts

    def find_opportunities(
        self, account_ids: Iterable[str], *, closing_after: date | None = None
    ) -> list[Opportunity]:
        """The opportunities of these accounts (200 accounts a query), oldest close first;
        with ``closing_after``, only those closing on or after that day."""
        since = f" AND CloseDate >= {closing_after.isoformat()}" if closing_after else ""
        template = f"SELECT {OPPORTUNITY_SELECT} FROM Opportunity WHERE AccountId IN {{values}}"
        found = [
            to_opportunity(rec)
            for soql, _ in in_batches(template + since, sorted(set(account_ids)))
            for rec in self.query_all(soql)
        ]
        return sorted(found, key=lambda o: (o.close_date, o.id))

    def find_tasks_by_key(self, keys: Iterable[str]) -> dict[str, str]:
        """Task id per idempotency key, for Tasks we already created."""
        marker = self.task_marker_field
        template = f"SELECT Id, {marker} FROM Task WHERE {marker} IN {{values}}"
        found: dict[str, str] = {}
        for soql, _ in in_batches(template, list(keys)):
            for rec in self.query_all(soql):
                found.setdefault(rec[marker], rec["Id"])
        return found

    def has_keyed_tasks(self) -> bool:
        """Whether any Task carries an idempotency key: nps-sync, with this state database or
        another, has made Tasks in this org. One query, one row at most."""
        marker = self.task_marker_field
        return bool(self.query_all(f"SELECT Id FROM Task WHERE {marker} != null LIMIT 1"))

    def find_owners(self, ids: Iterable[str]) -> dict[str, str]:
        """Active users and queues among ``ids``: id -> ``User`` or ``Queue``.

        Ids are typed by prefix: ``005`` users, ``00G`` groups (of which queues may own Tasks).
        """
        keys = sorted({key for key in map(record_key, ids) if key})
        queries = (
            ("User", USER_PREFIX, "SELECT Id FROM User WHERE IsActive = true AND Id IN {values}"),
            ("Queue", QUEUE_PREFIX, "SELECT Id FROM Group WHERE Type = 'Queue' AND Id IN {values}"),
        )
        found: dict[str, str] = {}
        for kind, prefix, template in queries:
            wanted = [k for k in keys if k.startswith(prefix)]
            for soql, _ in in_batches(template, wanted):
                found.update({rec["Id"]: kind for rec in self.query_all(soql)})
        return found

    def find_active_users_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """Active user id per lower-cased email; the oldest user wins when several share one."""
        template = "SELECT Id, Email FROM User WHERE IsActive = true AND Email IN {values}"
        found: dict[str, str] = {}
        for soql, _ in in_batches(template, sorted({e.lower() for e in emails})):
            for rec in sorted(self.query_all(soql), key=lambda r: r["Id"]):
                found.setdefault(str(rec.get("Email") or "").lower(), str(rec["Id"]))
        return found

    def find_queues(self, names: Iterable[str]) -> list[Queue]:
        """Queues whose Name or DeveloperName is one of ``names`` (Salesforce compares them
        without regard to case), each with the objects it may own; oldest first."""
        wanted = sorted({n for n in names if n})
        if not wanted:
            return []
        # Names come from the rules file; format_soql quotes and escapes them.
        soql = format_soql(
            "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' "
            "AND (Name IN {names} OR DeveloperName IN {names})",
            names=wanted,
        )
        groups = sorted(self.query_all(soql), key=lambda r: str(r["Id"]))
        if not groups:
            return []
        sobjects: dict[str, set[str]] = defaultdict(set)
        template = "SELECT QueueId, SobjectType FROM QueueSobject WHERE QueueId IN {values}"
        for batch, _ in in_batches(template, [str(g["Id"]) for g in groups]):
            for rec in self.query_all(batch):
                sobjects[str(rec["QueueId"])[:15]].add(str(rec["SobjectType"]))
        return [
            Queue(
                id=str(g["Id"]),
                name=str(g.get("Name") or ""),
                developer_name=str(g.get("DeveloperName") or ""),
                sobjects=frozenset(sobjects.get(str(g["Id"])[:15], ())),
            )
            for g in groups
        ]

    def open_tasks(self, task_ids: Iterable[str]) -> set[str]:
        """The 15-character ids of the Tasks among ``task_ids`` that exist and are not closed."""
        template = "SELECT Id, IsClosed FROM Task WHERE Id IN {values}"
        still_open: set[str] = set()
        for soql, _ in in_batches(template, sorted({i[:15] for i in task_ids if i})):
            for rec in self.query_all(soql):
                if not rec.get("IsClosed"):
                    still_open.add(str(rec["Id"])[:15])
        return still_open

    def task_states(
        self, task_ids: Iterable[str], *, outcome_field: str = ""
    ) -> dict[str, TaskState]:
        """Status, completion and loop outcome of the Tasks among ``task_ids`` that exist, by
        15-character id; 200 Tasks per query. ``outcome_field`` (a picklist API name, validated
        by the config) is read when given."""
        extra = f", {outcome_field}" if outcome_field else ""
        template = (
            "SELECT Id, Status, IsClosed, CompletedDateTime, LastModifiedDate, OwnerId"
            f"{extra} FROM Task WHERE Id IN {{values}}"
        )
        found: dict[str, TaskState] = {}
        for soql, _ in in_batches(template, sorted({i[:15] for i in task_ids if i})):
            for rec in self.query_all(soql):
                found[str(rec["Id"])[:15]] = task_state(rec, outcome_field)
        return found

    def find_key_contacts(
        self, account_ids: Iterable[str], *, field: str, values: Sequence[str] = ()
    ) -> dict[str, frozenset[str]]:
        """Key contact ids per account: ``field`` is true (a checkbox), or one of ``values``.

        Every account asked for is in the answer, with no ids when it has no key contact.
        """
        if values:
            literals = ", ".join(quote_soql_value(v) for v in values)
            condition = f"{field} IN ({literals})"
        else:
            condition = f"{field} = true"
        condition = condition.replace("{", "{{").replace("}", "}}")
        # The field name is validated by the config; values are quoted; ids go through in_batches.
        template = (
            f"SELECT Id, AccountId FROM Contact WHERE {condition} AND AccountId IN {{values}}"
        )
        ids = list(account_ids)
        found: dict[str, set[str]] = {account_id: set() for account_id in ids}
        for soql, _ in in_batches(template, ids):
            for rec in self.query_all(soql):
                found.setdefault(rec["AccountId"], set()).add(rec["Id"])
        return {account_id: frozenset(contacts) for account_id, contacts in found.items()}

    def read_fields(
        self, object_type: str, record_ids: Sequence[str], fields: Iterable[str]
    ) -> dict[str, dict[str, Any]]:
        """Current values of ``fields`` per record id, keyed as given when it is the 18-character
        id in any case (else as Salesforce answers); records that no longer exist are absent."""
        names = sorted(set(fields))
        if not names or not record_ids:
            return {}
        # Field names come from the config's mapping; ids only pass through or_in_batches' escaping.
        select = f"SELECT Id, {', '.join(names)} FROM {object_type}"
        current: dict[str, dict[str, Any]] = {}
        by_lower = {record_id.lower(): record_id for record_id in record_ids}
        for rec in self.select_in(object_type, select, {"Id": list(record_ids)}):
            record_id = by_lower.get(str(rec["Id"]).lower(), str(rec["Id"]))
            current[record_id] = {name: rec.get(name) for name in names}
        return current

    # -- writes --------------------------------------------------------------------------------
    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteResult]:
        """Create Tasks in collections of 200; one result per task, keyed by its idempotency key.

        A create whose answer never came raises :class:`~connectors.errors.WriteInDoubtError`:
        Salesforce may have committed it, or may still (it runs a request for up to ten minutes
        after its client gave up). Callers look the keys up (:meth:`find_tasks_by_key`) once that
        time has passed before they try again, never create blindly.
        """
        results: list[WriteResult] = []
        for chunk in chunked(tasks, COLLECTION_SIZE):
            records = [self._task_record(t) for t in chunk]
            answer = self._call(partial(self._send_collection, "POST", records), creates=True)
            results.extend(
                errors.write_result(t.key, item, sent)
                for t, item, sent in zip(chunk, answer, records, strict=True)
            )
        return results

    def update_records(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Update fields of existing records; one result per update, keyed by record id.

        Updates are grouped by object (a Lead matched in place of a contact is written as a
        Lead); a group larger than the Bulk threshold goes through Bulk 2.0. A group the org
        refuses as a whole (a missing field, no access) fails its records, not the others. A
        failure to retry or defer stops the call, its
        :attr:`~connectors.errors.ConnectorError.results` holding those of the collections
        written before it, so that only the rest is sent again.
        """
        groups: dict[str, list[FieldUpdate]] = defaultdict(list)
        for update in updates:
            groups[_object_of(update)].append(update)
        results: dict[str, WriteResult] = {}
        for object_type, group in groups.items():
            try:
                outcome = self._update_group(object_type, group)
            except (RetryableError, DeferError) as exc:
                results.update((r.record_id, r) for r in exc.results if r is not None)
                stopped_part_way(exc, [results.get(u.record_id) for u in updates])
                raise
            except (ConfigError, RecordError) as exc:
                code = getattr(exc, "code", "") or type(exc).__name__
                outcome = [
                    WriteResult(
                        u.record_id,
                        ok=False,
                        error=f"{object_type}: {exc.message}",
                        code=code,
                        tier=exc.tier,
                    )
                    for u in group
                ]
            results.update((r.record_id, r) for r in outcome)
        return [results[u.record_id] for u in updates]

    def _update_group(self, object_type: str, group: Sequence[FieldUpdate]) -> list[WriteResult]:
        records = [{"Id": u.record_id, **u.values} for u in group]
        if self.bulk_threshold and len(group) > self.bulk_threshold:
            return self._call(
                lambda: bulk_update(self.sf, object_type, records, poll=self.bulk_poll)
            )
        results: list[WriteResult] = []
        for chunk in chunked(records, COLLECTION_SIZE):
            body = [
                {"attributes": {"type": object_type}, "id": r["Id"], **_without_id(r)}
                for r in chunk
            ]
            try:
                answer = self._call(partial(self._send_collection, "PATCH", body))
            except (RetryableError, DeferError) as exc:
                stopped_part_way(exc, _padded(results, len(records)))
                raise
            results.extend(
                errors.write_result(str(r["Id"]), item, r)
                for r, item in zip(chunk, answer, strict=True)
            )
        return results

    def _send_collection(self, method: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = {"allOrNone": False, "records": records}
        answer = self.sf.restful("composite/sobjects", method=method, json=body)
        if not isinstance(answer, list) or len(answer) != len(records):
            # The request was carried out, or some of it: what it did is unknown.
            raise WriteInDoubtError(
                "collections answer does not match the request", system=errors.SYSTEM
            )
        return answer

    # -- upserts by external id (the write-back's per-response history object) ---------------
    def upsert_records(
        self,
        object_type: str,
        external_id_field: str,
        records: Sequence[Mapping[str, Any]],
        *,
        bulk_threshold: int | None = None,
    ) -> list[WriteResult]:
        """Create or update records by an external id; one result per record, keyed by its
        external id value. sObject Collections upsert (``PATCH /composite/sobjects/{object}/
        {field}``, 200 per call), or Bulk API 2.0 above ``bulk_threshold`` records (default:
        the connector's threshold for updates; 0: never). A collection that fails to retry or
        defer stops the call with the results of those before it (as :meth:`update_records`)."""
        keys = [str(r[external_id_field]) for r in records]
        threshold = self.bulk_threshold if bulk_threshold is None else bulk_threshold
        if threshold and len(records) > threshold:
            return self._call(
                lambda: bulk_upsert(
                    self.sf, object_type, external_id_field, records, self.bulk_poll
                )
            )
        path = f"composite/sobjects/{object_type}/{external_id_field}"
        results: list[WriteResult] = []
        for part, chunk_keys in zip(
            chunked(records, COLLECTION_SIZE), chunked(keys, COLLECTION_SIZE), strict=True
        ):
            chunk = [{"attributes": {"type": object_type}, **r} for r in part]
            try:
                answer = self._call(partial(self._send_upsert, path, chunk))
            except (RetryableError, DeferError) as exc:
                stopped_part_way(exc, _padded(results, len(records)))
                raise
            results.extend(
                errors.write_result(k, item, r)
                for k, item, r in zip(chunk_keys, answer, part, strict=True)
            )
        return results

    def delete_by_external_id(
        self, object_type: str, external_id_field: str, keys: Sequence[str]
    ) -> list[WriteResult]:
        """Delete the records whose external id is one of ``keys``; one result per key. A key
        no record has (never written, or deleted already) is done: what was asked for holds.
        The records are found by one query per 200 keys (each escaped) and deleted with
        sObject Collections (``DELETE /composite/sobjects?ids=``, 200 per call)."""
        select = f"SELECT Id, {external_id_field} FROM {object_type}"
        found = self.select_in(object_type, select, {external_id_field: list(keys)})
        by_id = {str(rec["Id"]): str(rec[external_id_field]) for rec in found}
        results = {k: WriteResult(record_id=k, ok=True) for k in keys}
        for chunk in chunked(sorted(by_id), COLLECTION_SIZE):
            answer = self._call(partial(self._send_delete, chunk))
            for record_id, item in zip(chunk, answer, strict=True):
                result = errors.write_result(by_id[record_id], item)
                if not result.ok and result.code != "ENTITY_IS_DELETED":
                    results[result.record_id] = result
        return [results[k] for k in keys]

    def _send_delete(self, record_ids: list[str]) -> list[dict[str, Any]]:
        answer = self.sf.restful(
            "composite/sobjects",
            method="DELETE",
            params={"ids": ",".join(record_ids), "allOrNone": "false"},
        )
        if not isinstance(answer, list) or len(answer) != len(record_ids):
            raise RetryableError("delete answer does not match the request", system=errors.SYSTEM)
        return answer

    def _send_upsert(self, path: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        answer = self.sf.restful(
            path, method="PATCH", json={"allOrNone": False, "records": records}
        )
        if not isinstance(answer, list) or len(answer) != len(records):
            raise RetryableError("upsert answer does not match the request", system=errors.SYSTEM)
        return answer

    def _task_record(self, task: TaskSpec) -> dict[str, Any]:
        record: dict[str, Any] = {
            "attributes": {"type": "Task"},
            "Subject": task.subject[:255],
            "Description": task.description[:MAX_TASK_DESCRIPTION],
            "OwnerId": task.owner_id,
            "ActivityDate": task.due_date.isoformat(),
            "Status": task.status,
            "Priority": task.priority,
            self.task_marker_field: task.key,
        }
        if task.who_id:
            record["WhoId"] = task.who_id
        if task.what_id:
            record["WhatId"] = task.what_id
        return record


def _reference_field(info: ObjectInfo, relationship: str) -> FieldInfo | None:
    for name in relationship_field(relationship):
        found = info.field(name)
        if found is not None and found.reference_to:
            return found
    return None


def _padded(results: Sequence[WriteResult], size: int) -> list[WriteResult | None]:
    """``results`` of the first records of a call of ``size``, None for the records after."""
    return [*results, *[None] * (size - len(results))]


def _object_of(update: FieldUpdate) -> str:
    """The sObject to write: ids are typed by prefix, and a matched Lead is not a Contact."""
    if update.object_type == "Contact" and update.record_id.startswith(LEAD_PREFIX):
        return "Lead"
    return update.object_type


def _without_id(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "Id"}


def _field_text(record: Mapping[str, Any], path: str) -> str:
    """The value at ``path`` (``Type``, ``Parent.Type``) of a REST record as text: "" when it
    or a relationship on the way is empty, ``true``/``false`` for a checkbox, whole numbers
    without a decimal point."""
    value: Any = record
    for hop in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(hop)
    if value is None or isinstance(value, Mapping):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 250 employees, not 250.0
    return str(value)
