"""Routing fields the state store answers, not the response or its match: the account's NPS
(``account.nps``) and the respondent's support history (``support.open_tickets``,
``support.tickets_last_30d``, from the mirror of Zendesk's tickets).

They are looked up only when the rules read them (a condition or a template), so rules that
never mention them cost nothing; an account's answers are read from the store once per pass
(:class:`AccountAnswers`), the tickets once per batch. The route stage stores the values
with the decision (``looked_up``), so a replay or an escalation step later renders what routing
saw.

- ``account.nps`` is the account's rolling NPS when the response was given, this answer
  counted: the window and decay of ``metrics:`` up to that moment, over the account's routed
  responses and the batch's own (:func:`sync.fields.metrics.window_score`), so a backlog routes
  each answer on what was known when it came, whatever came after it. Answers without a
  Salesforce contact do not count, as on the record (a response matched to the account by its
  domain still sees the account's NPS).
- ``support.open_tickets`` counts the respondent's Zendesk tickets open when they answered;
  ``support.tickets_last_30d`` those created in the 30 days before. Both need the
  mirror (``zendesk.tickets.context_from: export``) to have read the export to its end at least
  once: before that, or for a respondent with no Zendesk user, they are missing (a condition on
  them does not hold), never a guessed zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from rules import Ruleset
from sync.fields.metrics import AccountSettings, ScoredResponse, window_score
from sync.fields.values import scored
from sync.stages.match_record import Match
from sync.state import StateStore, StoredResponse, TicketSpan

ACCOUNT_NPS = "account.nps"
OPEN_TICKETS = "support.open_tickets"
RECENT_TICKETS = "support.tickets_last_30d"
SUPPORT_FIELDS = (OPEN_TICKETS, RECENT_TICKETS)
RECENT = timedelta(days=30)

Key = tuple[str, str]
Facts = dict[Key, dict[str, object]]


def open_at(spans: Iterable[TicketSpan], at: datetime) -> int:
    """Tickets created by ``at`` and not solved by then."""
    return sum(1 for s in spans if s.created_at <= at and (s.solved_at is None or s.solved_at > at))


def created_within(spans: Iterable[TicketSpan], at: datetime, recent: timedelta = RECENT) -> int:
    """Tickets created in ``(at - recent, at]``."""
    return sum(1 for s in spans if at - recent < s.created_at <= at)


def account_nps_at(
    responses: Sequence[ScoredResponse], at: datetime, settings: AccountSettings
) -> float | None:
    """The account's NPS at ``at`` by the record's own definition (None: nobody counted)."""
    return window_score(responses, end=at, window=settings.window, half_life=settings.half_life).nps


def _key(stored: StoredResponse) -> Key:
    return stored.response.source, stored.response.response_id


class AccountAnswers:
    """The answers that count toward each account's NPS, kept for one pass: an account's are
    loaded from the store the first time a batch names it, then kept current with the pass's
    own batches, so a backlog does not load an account's answers again for every batch."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._by_account: dict[str, dict[str, ScoredResponse]] = {}

    def of(
        self, batch: Sequence[StoredResponse], matches: Mapping[Key, Match]
    ) -> dict[str, list[ScoredResponse]]:
        """The answers of each account of the batch, the batch's own included (a new version
        of a stored answer replaces it); each keyed by its respondent, as on the record
        (:func:`~sync.fields.values.respondent_key`)."""
        accounts = {m.account.id for s in batch if (m := matches[_key(s)]).account is not None}
        missing = sorted(accounts - self._by_account.keys())
        if missing:
            loaded: dict[str, dict[str, ScoredResponse]] = {a: {} for a in missing}
            for row in self._store.inbox.routed(account_ids=missing, with_match=False):
                for answer in scored([row]):
                    loaded[str(row.account_id)][answer.response_id] = answer
            self._by_account.update(loaded)
        for stored in batch:
            match = matches[_key(stored)]
            if match.account is None:
                continue
            r = stored.response
            answer_id = f"{r.source}:{r.response_id}"
            self._by_account[match.account.id][answer_id] = ScoredResponse(
                contact_id=match.contact.id if match.contact is not None else r.email.lower(),
                created_at=r.created_at,
                score=r.score,
                response_id=answer_id,
            )
        return {a: list(self._by_account[a].values()) for a in accounts}


def looked_up_fields(
    store: StateStore,
    batch: Sequence[StoredResponse],
    matches: Mapping[Key, Match],
    ruleset: Ruleset,
    now: datetime,
    *,
    settings: AccountSettings,
    tickets_mirrored: Callable[[], bool],
    answers: AccountAnswers | None = None,
) -> Facts:
    """The store-answered fields the rules read, per response of the batch (only those with a
    value). ``tickets_mirrored()``: the mirror of Zendesk's tickets has read its export to the
    end, so a respondent it holds no ticket of has none (asked only when the rules read
    ``support.*``). ``answers``: the pass's account answers (a new one by default)."""
    facts: Facts = defaultdict(dict)
    if ruleset.reads(ACCOUNT_NPS):
        by_account = (answers or AccountAnswers(store)).of(batch, matches)
        for stored in batch:
            account = matches[_key(stored)].account
            if account is None:
                continue
            answered = min(stored.response.created_at, now)
            score = account_nps_at(by_account[account.id], answered, settings)
            if score is not None:
                facts[_key(stored)][ACCOUNT_NPS] = score
    if any(ruleset.reads(name) for name in SUPPORT_FIELDS) and tickets_mirrored():
        users = {
            _key(s): (user, min(s.response.created_at, now))
            for s in batch
            if (user := matches[_key(s)].zendesk_user) is not None
        }
        history = store.open_tickets.history(
            (user.id for user, _ in users.values()), without_ours=True
        )
        for key, (user, answered) in users.items():
            spans = history.get(int(user.id), [])
            facts[key][OPEN_TICKETS] = open_at(spans, answered)
            facts[key][RECENT_TICKETS] = created_within(spans, answered)
    return dict(facts)
