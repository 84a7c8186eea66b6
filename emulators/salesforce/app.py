"""The Salesforce emulator: routes, bearer-session checks, the daily API allowance, faults.

Every data call (``/services/data/vNN.N/...``) must carry ``Authorization: Bearer <session>``
(401 ``INVALID_SESSION_ID`` otherwise), counts one call against ``daily_limit`` over a rolling 24
hours (403 ``REQUEST_LIMIT_EXCEEDED`` once spent, with no ``Retry-After``; see :mod:`allowance`)
and answers with ``Sforce-Limit-Info: api-usage=N/M``. Logins (SOAP and OAuth) do not count.

Fault kinds beyond the base ones: ``quota`` (that 403), ``invalid_session`` (401) and ``lock``:
on single-record DML a 400 ``UNABLE_TO_LOCK_ROW``; on sObject Collections and Bulk 2.0 (endpoint
name ``bulk2_process``) it fails individual records instead, each with the fault's ``rate`` or
for its next ``count`` records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from emulators.base import EmulatorApp, Fault, Handler, Request, Response
from emulators.salesforce import auth, bulk_api, collections_api, metadata, seeding, values
from emulators.salesforce import sobjects_api as sobjects
from emulators.salesforce.allowance import RollingAllowance
from emulators.salesforce.errors import ApiError, invalid_session, not_found
from emulators.salesforce.ids import is_valid_id, to_18
from emulators.salesforce.org import Org
from emulators.salesforce.query_api import query, query_more
from emulators.salesforce.responses import JSON_TYPE, error, sf_json
from emulators.salesforce.schema import FieldDef
from emulators.salesforce.standard_schema import bare_schema, default_schema
from emulators.salesforce.store import Txn
from emulators.salesforce.writes import ValidationRule
from emulators.seed_model import Seed

DEFAULT_USERNAME: Final = "integration@acme.example"
DEFAULT_PASSWORD: Final = "password"
DEFAULT_TOKEN: Final = "TOKEN"
MAX_URI_BYTES: Final = 16_384
API: Final = r"/services/data/v(?P<version>\d+\.\d+)"
SINGLE_RECORD_DML: Final = frozenset(
    {"sobject_create", "sobject_update", "sobject_upsert", "sobject_delete"}
)
LOGIN_ENDPOINTS: Final = frozenset({"login_soap", "login_oauth"})
_STATUS_ERRORS: Final = {
    400: ("BAD_REQUEST", "The request could not be understood"),
    401: ("INVALID_SESSION_ID", "Session expired or invalid"),
    403: ("FORBIDDEN", "The request has been refused"),
    404: ("NOT_FOUND", "The requested resource does not exist"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: (
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact support: "
        "1234567890-12345 (-1234567890)",
    ),
    503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable, please try again later"),
}

OrgHandler = Callable[[Org, Request, auth.Session], Response]


def quota_exceeded() -> ApiError:
    return ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


DEFAULT_TASK_QUEUE = "NPS Follow-up"


class SalesforceEmulator(EmulatorApp):
    """An in-memory Salesforce org speaking the REST, SOAP-login, OAuth and Bulk 2.0 APIs."""

    system = "salesforce"

    def __init__(
        self,
        *,
        seed: int = 0,
        instance_host: str = "acme.my.salesforce.com",
        daily_limit: int = 100_000,
        page_size: int = 2000,
        bare: bool = False,
    ) -> None:
        """``bare``: a new org with standard objects and fields only (see :meth:`deploy`)."""
        super().__init__(seed=seed)
        self.instance_host = instance_host
        self.org = Org(
            seed=seed,
            instance_host=instance_host,
            page_size=page_size,
            record_locked=self._record_locked,
            schema=bare_schema() if bare else default_schema(),
        )
        self._allowance = RollingAllowance(daily_limit)
        self.default_user_id = self.add_credentials(
            DEFAULT_USERNAME, DEFAULT_PASSWORD, DEFAULT_TOKEN
        )
        #: A queue that may own Tasks, as orgs routing follow-ups to a team have.
        self.task_queue_id = self.org.add_queue(DEFAULT_TASK_QUEUE, ("Task",))
        self._register()

    # -- configuration -------------------------------------------------------------------------
    @property
    def instance_url(self) -> str:
        return f"https://{self.instance_host}"

    @property
    def daily_limit(self) -> int:
        """API calls the org allows in any 24 hours."""
        return self._allowance.limit

    @daily_limit.setter
    def daily_limit(self, value: int) -> None:
        with self.lock:
            self._allowance.limit = value

    @property
    def api_used(self) -> int:
        """API calls made in the last 24 hours (by the org's clock)."""
        with self.lock:
            return self._allowance.used

    @api_used.setter
    def api_used(self, value: int) -> None:
        """Start the window over with ``value`` calls counted now."""
        with self.lock:
            self._allowance.set_used(value)

    def advance_api_window(self, seconds: float) -> None:
        """Let ``seconds`` pass for the rolling 24-hour allowance (calls older than 24 h expire)."""
        with self.lock:
            self._allowance.advance(seconds)

    @property
    def page_size(self) -> int:
        return self.org.queries.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self.org.queries.page_size = value

    @property
    def session_ttl_seconds(self) -> float | None:
        return self.org.auth.ttl_seconds

    @session_ttl_seconds.setter
    def session_ttl_seconds(self, value: float | None) -> None:
        self.org.auth.ttl_seconds = value

    @property
    def clock(self) -> Callable[[], datetime]:
        """Source of "now" for timestamps, session age and relative SOQL dates."""
        return self.org.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self.org.clock = value

    @property
    def bulk_polls_to_complete(self) -> int:
        """Job-info polls after ``UploadComplete`` until a Bulk 2.0 job is ``JobComplete``."""
        return self.org.bulk.polls_to_complete

    @bulk_polls_to_complete.setter
    def bulk_polls_to_complete(self, value: int) -> None:
        self.org.bulk.polls_to_complete = max(1, value)

    def fail_queries_naming(self, text: str, *, failing: bool = True) -> None:
        """Every REST query whose SOQL holds ``text`` (a value it looks up, say) answers 503
        from now on, however often it is tried, while the others are answered; ``failing=False``
        ends it. A transient fault that hits one query of a lookup only, on every try."""
        with self.lock:
            if failing:
                self.org.failing_queries.add(text)
            else:
                self.org.failing_queries.discard(text)

    def fail_bulk_queries(self, message: str, count: int = 1) -> None:
        """The next ``count`` Bulk 2.0 query jobs end ``Failed`` with ``message``."""
        with self.lock:
            self.org.bulk_queries.fail_next(message, count)

    # -- users and sessions --------------------------------------------------------------------
    def add_credentials(self, username: str, password: str, security_token: str = "") -> str:
        """Let ``username`` log in (creating its User record); returns the user id."""
        with self.lock:
            return self.org.add_user(username, password, security_token)

    def add_connected_app(
        self,
        consumer_key: str,
        consumer_secret: str,
        *,
        run_as: str = DEFAULT_USERNAME,
        public_key: str | None = None,
    ) -> None:
        """Register an OAuth client; once any is registered, unknown consumer keys fail."""
        with self.lock:
            self.org.auth.apps[consumer_key] = auth.ConnectedApp(
                consumer_key, consumer_secret, run_as, public_key
            )

    def issue_session(self, username: str = DEFAULT_USERNAME) -> str:
        """A fresh session id for ``username``, as if it had logged in."""
        with self.lock:
            return self.org.auth.issue(username)

    def expire_sessions(self) -> None:
        """Invalidate every current session (the next data call answers 401)."""
        with self.lock:
            self.org.auth.expire_all()

    # -- org metadata --------------------------------------------------------------------------
    def add_validation_rule(
        self,
        sobject: str,
        predicate: Callable[[dict[str, Any]], bool],
        message: str,
        *,
        field: str | None = None,
    ) -> None:
        """Reject writes where ``predicate(record)`` is True.

        Failing records get ``FIELD_CUSTOM_VALIDATION_EXCEPTION`` with ``message``.
        """
        with self.lock:
            self.org.rules.append(ValidationRule(sobject, predicate, message, field))

    def add_field(self, sobject: str, field: FieldDef) -> None:
        """Create a field on ``sobject``, as an admin does in Setup (``deploy`` takes files)."""
        with self.lock:
            self.org.schema.require(sobject).add(field)

    def remove_field(self, sobject: str, field: str) -> None:
        with self.lock:
            self.org.schema.remove_field(sobject, field)

    def set_field_updateable(self, sobject: str, field: str, updateable: bool) -> None:
        with self.lock:
            self.org.schema.set_field_updateable(sobject, field, updateable)

    def deploy(self, directory: Path, manifest: Path | None = None) -> metadata.DeployResult:
        """Deploy Metadata API source files (custom objects, fields, permission sets), as
        ``sf project deploy start [--manifest package.xml]`` would; see :mod:`metadata`."""
        with self.lock:
            return metadata.deploy(self.org, directory, manifest)

    def assign_permission_set(self, name: str, username: str = DEFAULT_USERNAME) -> None:
        """Assign a deployed permission set to a user (``sf org assign permset``)."""
        with self.lock:
            user_id = self.org.auth.credentials[username.lower()].user_id
            self.org.security.assign(user_id, name)

    # -- records -------------------------------------------------------------------------------
    def load_seed(self, seed: Seed) -> None:
        with self.lock:
            seeding.load(self.org.store, seed, writer=self.org.raw)

    def insert_record(self, sobject: str, fields: dict[str, Any]) -> str:
        """Put a record straight into the org (no validation, no API usage); returns its id."""
        with self.lock:
            return self.org.raw.put(sobject, fields)

    def update_record(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """Edit a record as a user in the UI would (validation and derived fields apply, no API
        usage): an owner completing a Task, say."""
        with self.lock:
            obj = self.org.schema.require(sobject)
            txn = Txn(self.org.store)
            self.org.writer.update(txn, obj, to_18(record_id), fields, user_id=self.default_user_id)
            txn.commit()

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of ``sobject`` as the REST API would render its fields."""
        with self.lock:
            obj = self.org.schema.require(sobject)
            return [
                self._render(obj.name, record)
                for record in self.org.store.rows(obj, include_deleted=include_deleted)
            ]

    def get_record(self, sobject: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.org.schema.require(sobject)
            if not is_valid_id(record_id):
                return None
            record = self.org.store.get(obj, to_18(record_id))
            return self._render(obj.name, record) if record is not None else None

    def query(self, soql: str, *, include_deleted: bool = False) -> dict[str, Any]:
        """Run SOQL without HTTP or API usage: ``{"totalSize","done","records"}``, unpaged.

        Raises :class:`emulators.salesforce.errors.ApiError` as the API would answer.
        """
        with self.lock:
            return self.org.queries.run(
                soql,
                include_deleted=include_deleted,
                version="59.0",
                resource="query",
                paged=False,
                time_zone=self.org.time_zone_of(self.default_user_id),
            )

    def _render(self, sobject: str, record: dict[str, Any]) -> dict[str, Any]:
        obj = self.org.schema.require(sobject)
        return {d.name: values.to_json(d, record.get(d.name)) for d in obj}

    # -- HTTP plumbing -------------------------------------------------------------------------
    def _register(self) -> None:
        sobject = r"/sobjects/(?P<sobject>\w+)"
        record = sobject + r"/(?P<record_id>[^/]+)/?"
        by_key = sobject + r"/(?P<field>\w+)/(?P<value>[^/]+)/?"
        more = r"/(?P<resource>query|queryAll)/(?P<locator>[^/]+)/?"
        upsert_many = "/composite" + sobject + r"/(?P<field>\w+)/?"
        job = r"/jobs/ingest/(?P<job_id>\w+)"
        query_job = r"/jobs/query/(?P<job_id>\w+)"
        results = r"/(?P<kind>(?i:successfulResults|failedResults|unprocessedRecords))/?"
        api_routes: list[tuple[str, str, str, OrgHandler]] = [
            ("GET", "/?", "resources", self._resources),
            ("GET", "/limits/?", "limits", self._limits),
            ("GET", "/limits/recordCount/?", "limits_record_count", sobjects.record_count),
            ("GET", "/sobjects/?", "describe_global", sobjects.describe_global),
            ("GET", sobject + "/describe/?", "describe", sobjects.describe),
            ("GET", sobject + "/?", "sobject_info", sobjects.basic_info),
            ("POST", sobject + "/?", "sobject_create", sobjects.create),
            ("GET", record, "sobject_get", sobjects.get),
            ("PATCH", record, "sobject_update", sobjects.update),
            ("DELETE", record, "sobject_delete", sobjects.delete),
            ("GET", by_key, "sobject_get_by_external_id", sobjects.get_by_external_id),
            ("PATCH", by_key, "sobject_upsert", sobjects.upsert),
            ("GET", "/query/?", "query", query),
            ("GET", "/queryAll/?", "queryall", query),
            ("GET", more, "query_more", query_more),
            ("POST", "/composite/sobjects/?", "composite_create", collections_api.create),
            ("PATCH", "/composite/sobjects/?", "composite_update", collections_api.update),
            ("DELETE", "/composite/sobjects/?", "composite_delete", collections_api.delete),
            ("PATCH", upsert_many, "composite_upsert", collections_api.upsert),
            ("POST", "/jobs/ingest/?", "bulk2_create_job", bulk_api.create_job),
            ("GET", "/jobs/ingest/?", "bulk2_list_jobs", bulk_api.list_jobs),
            ("GET", job + "/?", "bulk2_get_job", bulk_api.get_job),
            ("PATCH", job + "/?", "bulk2_set_state", bulk_api.set_state),
            ("DELETE", job + "/?", "bulk2_delete_job", bulk_api.delete_job),
            ("PUT", job + "/batches/?", "bulk2_upload", bulk_api.upload),
            ("GET", job + results, "bulk2_results", bulk_api.results),
            ("POST", "/jobs/query/?", "bulk2_query_create", bulk_api.create_query_job),
            ("GET", "/jobs/query/?", "bulk2_query_list", bulk_api.list_query_jobs),
            ("GET", query_job + "/?", "bulk2_query_get", bulk_api.get_query_job),
            ("PATCH", query_job + "/?", "bulk2_query_abort", bulk_api.abort_query_job),
            ("DELETE", query_job + "/?", "bulk2_query_delete", bulk_api.delete_query_job),
            ("GET", query_job + "/results/?", "bulk2_query_results", bulk_api.query_results),
        ]  # fmt: skip
        self.route("GET", r"/services/data/?", "versions", self._versions)
        for method, pattern, name, handler in api_routes:
            self.route(method, API + pattern, name, self._guarded(handler))
        soap = r"/services/Soap/u/(?P<version>\d+\.\d+)(?:/.*)?"
        self.route("POST", soap, "login_soap", self._soap_login)
        self.route("POST", "/services/oauth2/token/?", "login_oauth", self._oauth_token)

    def _guarded(self, handler: OrgHandler) -> Handler:
        """Wrap a data handler with the URI limit, session check and API-usage accounting."""

        def guarded(request: Request) -> Response:
            try:
                if _uri_bytes(request) > MAX_URI_BYTES:
                    raise ApiError(414, "REQUEST_URI_TOO_LONG", "Request-URI Too Long")
                with self.lock:
                    session = self.org.auth.session(request.header("authorization"))
                    if session is None:
                        raise invalid_session()
                    if not self._allowance.take():
                        raise quota_exceeded()
                    return handler(self.org, request, session)
            except ApiError as exc:
                return error(exc)

        return guarded

    def _soap_login(self, request: Request) -> Response:
        with self.lock:
            return auth.soap_login(self.org.auth, request, self.instance_host)

    def _oauth_token(self, request: Request) -> Response:
        with self.lock:
            return auth.oauth_token(self.org.auth, request, self.instance_host)

    def _versions(self, request: Request) -> Response:
        versions = ["57.0", "58.0", "59.0", "60.0", "61.0", "62.0"]
        return sf_json(
            [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in versions]
        )

    def _resources(self, org: Org, request: Request, session: auth.Session) -> Response:
        base = f"/services/data/v{request.params['version']}"
        names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs/ingest")
        return sf_json({name.split("/")[0]: f"{base}/{name}" for name in names})

    def _limits(self, org: Org, request: Request, session: auth.Session) -> Response:
        remaining = max(0, self.daily_limit - self._allowance.used)
        fixed = {
            "DailyBulkApiBatches": 15_000,
            "DailyBulkV2QueryFileStorageMB": 976_562,
            "DailyBulkV2QueryJobs": 10_000,
            "DataStorageMB": 1_024,
            "FileStorageMB": 10_240,
            "SingleEmail": 5_000,
        }
        payload: dict[str, Any] = {
            "DailyApiRequests": {"Max": self.daily_limit, "Remaining": remaining}
        }
        payload.update({name: {"Max": cap, "Remaining": cap} for name, cap in fixed.items()})
        return sf_json(payload)

    # -- faults and decoration -----------------------------------------------------------------
    def fault_applies(self, fault: Fault, endpoint: str) -> bool:
        """As the base, except that ``lock`` faults on batch endpoints fail records, not calls,
        and ``quota`` faults spare the logins (they do not count against the allowance)."""
        if fault.kind == "quota" and endpoint in LOGIN_ENDPOINTS:
            return False
        return fault.matches(endpoint) and (fault.kind != "lock" or endpoint in SINGLE_RECORD_DML)

    def _record_locked(self, endpoint: str) -> bool:
        """Whether an injected ``lock`` fault fails the next record written by ``endpoint``."""
        fault = self.pick_fault(endpoint, lambda f: f.kind == "lock" and f.matches(endpoint))
        if fault is None:
            return False
        with self.lock:
            self.fault_log.append((endpoint, "lock"))
        return True

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "quota":
            return error(quota_exceeded())
        if fault.kind == "invalid_session":
            return error(invalid_session())
        if fault.kind == "lock":
            return error(
                ApiError(
                    400,
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record or 1 records",
                    [],
                )
            )
        return super().fault_response(fault, request)

    def error_response(self, status: int, request: Request, headers: dict[str, str]) -> Response:
        code, message = _STATUS_ERRORS.get(status, ("UNKNOWN_EXCEPTION", f"HTTP {status}"))
        return error(ApiError(status, code, message), headers)

    def not_found(self, request: Request) -> Response:
        allowed = sorted(
            {r.method for r in self._routes if r.pattern.match(request.path) is not None}
        )
        if allowed:
            message = f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(allowed)}"
            return error(ApiError(405, "METHOD_NOT_ALLOWED", message))
        return error(not_found())

    def decorate(self, request: Request, response: Response) -> None:
        if request.path.startswith(("/services/data", "/services/async")):
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.daily_limit}"
        if response.headers.get("Content-Type", "").startswith("application/json"):
            response.headers["Content-Type"] = JSON_TYPE


def _uri_bytes(request: Request) -> int:
    query = urlencode(request.query, doseq=True)
    return len(request.path.encode("utf-8")) + (len(query) + 1 if query else 0)
