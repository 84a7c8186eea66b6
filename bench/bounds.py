"""Lower bounds to measure a sync against: the fewest API calls its work takes when every request
carries a full batch, and the time the rate limits alone impose on those calls.

The work is counted from its outcome in the emulators (Tasks created, records whose NPS values
changed, tickets and comments added, jobs submitted), so a bound never trusts the engine's own
report of what it did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Records per sObject Collections call, and emails per SOQL ``IN (...)`` lookup.
SF_BATCH = 200
#: The query a new state database asks once, before its first actions: whether the org holds
#: Tasks nps-sync made before (a lost or restored state would otherwise make them again).
#: Every measured run starts on a new state database.
SF_NEW_STORE_CHECK = 1
#: Items per Zendesk ``create_many`` / ``update_many`` / ``show_many`` call.
ZD_BATCH = 100
#: A Zendesk job completes after one to three polls (two on average), see emulators.zendesk.jobs.
ZD_POLLS_PER_JOB = 2
#: Zendesk's job limit: at most 30 jobs of an account queued or running at once.
ZD_QUEUED_JOBS = 30
#: Calls any pass makes once to Zendesk: the group and ticket-field names it resolves.
ZD_SETUP = 2
#: Users per page of Zendesk's incremental user export.
ZD_EXPORT_PAGE = 1000
MINUTE = 60.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class SalesforceWork:
    """What one run asked of Salesforce, counted from its outcome in the org."""

    distinct_emails: int
    tasks: int
    contact_updates: int
    account_updates: int
    #: Tasks whose description got the link to the ticket made after them.
    task_links: int = 0

    def lower_bound(self) -> int:
        """The fewest Salesforce requests this work takes when every request carries a full
        batch of 200: one login, the new state database's check (:data:`SF_NEW_STORE_CHECK`),
        ``ceil(distinct emails / 200)`` lookups (every respondent must be looked up once),
        ``ceil(tasks / 200)`` creates, ``ceil(contact updates / 200)`` and ``ceil(account
        updates / 200)`` and ``ceil(task links / 200)`` updates (one sObject Collections call
        each)."""
        return (
            1
            + SF_NEW_STORE_CHECK
            + math.ceil(self.distinct_emails / SF_BATCH)
            + math.ceil(self.tasks / SF_BATCH)
            + math.ceil(self.contact_updates / SF_BATCH)
            + math.ceil(self.account_updates / SF_BATCH)
            + math.ceil(self.task_links / SF_BATCH)
        )

    def per_record(self) -> int:
        """The same work one record per request: a query per respondent, a create per Task,
        an update per contact, per account and per Task link (plus the login)."""
        return (
            1
            + self.distinct_emails
            + self.tasks
            + self.contact_updates
            + self.account_updates
            + self.task_links
        )

    @classmethod
    def of(cls, work: dict[str, Any]) -> SalesforceWork:
        return cls(
            work["distinct_emails"],
            work["tasks"],
            work["contact_updates"],
            work["account_updates"],
            work.get("task_links", 0),
        )


@dataclass(frozen=True, slots=True)
class ZendeskWork:
    """What one run asked of Zendesk, counted from its outcome in the account."""

    distinct_emails: int
    tickets: int
    comments: int
    user_updates: int
    organization_updates: int
    #: Users the Zendesk account held before the run (0: not known).
    account_users: int = 0

    def user_lookups(self) -> int:
        """The fewest requests that find every respondent among Zendesk's users: their emails
        looked up 100 a request, or the account's users read through the incremental export,
        1,000 a page, whichever is fewer."""
        by_email = math.ceil(self.distinct_emails / ZD_BATCH)
        if not self.account_users:
            return by_email
        return min(by_email, math.ceil(self.account_users / ZD_EXPORT_PAGE))

    def jobs(self) -> int:
        """Bulk jobs the writes take at 100 items each (comments on open tickets are
        ``update_many`` jobs too)."""
        return (
            math.ceil(self.tickets / ZD_BATCH)
            + math.ceil(self.comments / ZD_BATCH)
            + math.ceil(self.user_updates / ZD_BATCH)
            + math.ceil(self.organization_updates / ZD_BATCH)
        )

    def polls(self) -> int:
        """The fewest ``job_statuses/show_many`` polls that see the jobs end: a poll reads up
        to 100 jobs and a job ends after two polls on average, so 2 x ``ceil(jobs / 100)``;
        but Zendesk holds at most 30 jobs of an account at once, so more jobs than that are
        waited for 30 at a time: at least ``2 x jobs / 30`` polls."""
        jobs = self.jobs()
        return max(
            ZD_POLLS_PER_JOB * math.ceil(jobs / ZD_BATCH),
            math.ceil(ZD_POLLS_PER_JOB * jobs / ZD_QUEUED_JOBS),
        )

    def lower_bound(self) -> int:
        """The fewest Zendesk requests this work takes at 100 items a request:
        2 name lookups (groups, ticket fields) + :meth:`user_lookups` (every respondent found
        once, open tickets sideloaded) + ``ceil(tickets / 100)``
        ``create_many`` + ``ceil(comments / 100)`` ``update_many`` (comments on open tickets) +
        ``ceil(user updates / 100)`` + ``ceil(organization updates / 100)`` ``update_many`` +
        :meth:`polls` + 1 page of the incremental ticket export."""
        return (
            ZD_SETUP
            + self.user_lookups()
            + math.ceil(self.tickets / ZD_BATCH)
            + math.ceil(self.comments / ZD_BATCH)
            + math.ceil(self.user_updates / ZD_BATCH)
            + math.ceil(self.organization_updates / ZD_BATCH)
            + self.polls()
            + 1
        )

    @classmethod
    def of(cls, work: dict[str, Any]) -> ZendeskWork:
        return cls(
            work["distinct_emails"],
            work["tickets"],
            work["comments"],
            work["user_updates"],
            work["organization_updates"],
            work.get("zendesk_users", 0),
        )


def rate_limit_seconds(
    zendesk_calls: int, zendesk_per_minute: int, salesforce_calls: int, salesforce_per_day: int
) -> float:
    """The shortest time the rate limits allow for these calls, at the sustained rate each
    limit permits: Zendesk's per-minute budget, Salesforce's rolling 24-hour allowance (which
    only binds beyond a day's calls). Latency and the engine's own time are not included."""
    zendesk = zendesk_calls * MINUTE / zendesk_per_minute
    salesforce = max(0, math.ceil(salesforce_calls / salesforce_per_day) - 1) * DAY
    return max(zendesk, salesforce)
