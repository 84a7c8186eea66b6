"""The query resource: run SOQL, hand out pages, and remember cursors for ``nextRecordsUrl``.

Results are computed once and cut into pages of ``page_size``; the cursor (a query locator such
as ``01g8x0000000001AAA``) lives until it is evicted, like a server-side cursor that expires.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from emulators.salesforce.errors import ApiError
from emulators.salesforce.ids import IdFactory
from emulators.salesforce.soql_bind import Plan, Visible, bind
from emulators.salesforce.soql_eval import execute
from emulators.salesforce.soql_lexer import SoqlError
from emulators.salesforce.soql_parser import parse
from emulators.salesforce.standard_schema import DEFAULT_TIME_ZONE
from emulators.salesforce.store import Store

#: How many open cursors are kept before the oldest expires.
MAX_CURSORS: Final = 100
LOCATOR_PREFIX: Final = "01g"


@dataclass(slots=True)
class _Cursor:
    records: list[dict[str, Any]]


class QueryService:
    """Runs SOQL against a store and pages the answers."""

    def __init__(
        self, store: Store, ids_factory: IdFactory, clock: Callable[[], datetime], page_size: int
    ) -> None:
        self.store = store
        self.page_size = page_size
        self._ids = ids_factory
        self._clock = clock
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()

    def run(
        self,
        soql: str,
        *,
        include_deleted: bool,
        version: str,
        resource: str,
        paged: bool = True,
        visible: Visible | None = None,
        time_zone: str = DEFAULT_TIME_ZONE,
    ) -> dict[str, Any]:
        """The first page of ``soql`` (all of it unless ``paged``).

        ``resource`` is ``query`` or ``queryAll``; ``visible`` says which fields the querying
        user may see (all when None); ``time_zone`` is the querying user's, in which date
        literals (``TODAY``, ``LAST_N_DAYS:n``) count days. Invalid SOQL raises
        :class:`ApiError` with Salesforce's error code and message layout.
        """
        plan = self.plan(soql, visible=visible, time_zone=time_zone)
        total, records = execute(plan, self.store, include_deleted=include_deleted, version=version)
        if plan.count_only or not paged:
            return {"totalSize": total, "done": True, "records": records}
        locator = self._ids.new(LOCATOR_PREFIX) if total > self.page_size else ""
        if locator:
            self._cursors[locator] = _Cursor(records)
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return self._page(locator, records, 0, version, resource)

    def plan(
        self, soql: str, *, visible: Visible | None = None, time_zone: str = DEFAULT_TIME_ZONE
    ) -> Plan:
        """``soql`` parsed and bound to the schema; invalid SOQL raises :class:`ApiError` with
        Salesforce's error code and message layout."""
        try:
            return bind(parse(soql), self.store, self._clock(), visible, time_zone)
        except SoqlError as exc:
            raise ApiError(400, exc.code, exc.render(soql)) from None

    def more(self, token: str, *, version: str, resource: str) -> dict[str, Any]:
        """A later page: ``token`` is ``<locator>-<offset>`` from ``nextRecordsUrl``."""
        locator, _, offset_text = token.rpartition("-")
        cursor = self._cursors.get(locator)
        if cursor is None or not offset_text.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        self._cursors.move_to_end(locator)
        return self._page(locator, cursor.records, int(offset_text), version, resource)

    def _page(
        self, locator: str, records: list[dict[str, Any]], offset: int, version: str, resource: str
    ) -> dict[str, Any]:
        end = offset + self.page_size
        done = end >= len(records)
        page: dict[str, Any] = {"totalSize": len(records), "done": done}
        if not done:
            page["nextRecordsUrl"] = f"/services/data/v{version}/{resource}/{locator}-{end}"
        page["records"] = records[offset:end]
        return page
