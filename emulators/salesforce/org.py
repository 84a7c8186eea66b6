"""Everything one emulated org holds: metadata, records, sessions, cursors and bulk jobs.

The HTTP layer (:mod:`app`) owns one :class:`Org` and calls the resource modules with it; the
resource modules never see HTTP routing, faults or API-usage accounting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from emulators.salesforce.auth import AuthRegistry, Credential
from emulators.salesforce.bulk import BulkService
from emulators.salesforce.bulk_query import QueryJobs
from emulators.salesforce.ids import IdFactory
from emulators.salesforce.query import QueryService
from emulators.salesforce.schema import Schema
from emulators.salesforce.security import FieldSecurity
from emulators.salesforce.seeding import RawWriter
from emulators.salesforce.standard_schema import DEFAULT_TIME_ZONE
from emulators.salesforce.store import Store
from emulators.salesforce.writes import ValidationRule, Writer

#: Pseudo-endpoint name that per-record ``lock`` faults match during Bulk 2.0 processing.
BULK_RECORDS_ENDPOINT = "bulk2_process"


class Org:
    def __init__(
        self,
        *,
        seed: int,
        instance_host: str,
        page_size: int,
        record_locked: Callable[[str], bool],
        schema: Schema,
    ) -> None:
        self.instance_host = instance_host
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.schema = schema
        #: Who may see and edit the fields that permission sets open (deployed fields).
        self.security = FieldSecurity()
        self.ids = IdFactory()
        self.store = Store(self.schema)
        self.rules: list[ValidationRule] = []
        self.writer = Writer(ids_factory=self.ids, clock=self.now, rules=self.rules)
        self.queries = QueryService(self.store, self.ids, self.now, page_size)
        self.bulk = BulkService(
            store=self.store,
            writer=self.writer,
            ids_factory=self.ids,
            clock=self.now,
            locked=lambda: record_locked(BULK_RECORDS_ENDPOINT),
        )
        self.bulk_queries = QueryJobs(
            store=self.store,
            ids_factory=self.ids,
            clock=self.now,
            polls_to_complete=lambda: self.bulk.polls_to_complete,
        )
        self.auth = AuthRegistry(random.Random(f"sessions-{seed}"), self.now)
        self.record_locked = record_locked
        self.raw = RawWriter(self.store, self.ids, "", self.now)
        #: REST queries whose SOQL holds one of these texts answer 503 (see
        #: :meth:`SalesforceEmulator.fail_queries_naming`).
        self.failing_queries: set[str] = set()

    def now(self) -> datetime:
        return self.clock()

    def time_zone_of(self, user_id: str) -> str:
        """The user's ``TimeZoneSidKey``: SOQL date literals count days in it."""
        user_type = self.schema.require("User")
        record = self.store.get(user_type, user_id)
        zone = record.get("TimeZoneSidKey") if record is not None else None
        return zone if isinstance(zone, str) and zone else DEFAULT_TIME_ZONE

    def add_queue(self, name: str, sobjects: tuple[str, ...]) -> str:
        """A queue that may own records of ``sobjects``; returns its ``00G`` id."""
        developer_name = "".join(c if c.isalnum() else "_" for c in name)
        queue_id = self.raw.put(
            "Group", {"Name": name, "DeveloperName": developer_name, "Type": "Queue"}
        )
        for sobject in sobjects:
            self.raw.put("QueueSobject", {"QueueId": queue_id, "SobjectType": sobject})
        return queue_id

    def add_user(self, username: str, password: str, security_token: str) -> str:
        """A User record plus login credentials; returns the user id."""
        user_type = self.schema.require("User")
        existing = self.store.find_by(user_type, "Username", username)
        if existing:
            user_id = existing[0]
        else:
            local = username.split("@")[0]
            user_id = self.ids.new(user_type.key_prefix)
            self.raw.creator_id = self.raw.creator_id or user_id
            self.raw.put(
                "User",
                {
                    "Id": user_id,
                    "Username": username,
                    "LastName": local.replace(".", " ").title(),
                    "Email": username,
                    "Alias": local[:8],
                    "Title": "Integration User",
                },
            )
        self.auth.add(Credential(username, password, security_token, user_id))
        return user_id
