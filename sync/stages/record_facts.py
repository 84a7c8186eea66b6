"""Routing fields the state store answers, not the response or its match: the account's NPS
(``account.nps``) and the respondent's support history (``support.open_tickets``,
``support.tickets_last_30d``, from the mirror of Zendesk's tickets).

They are looked up only when the rules read them (a condition or a template), so rules that
never mention them cost nothing; an account's answers are read from the store once per pass
(:class:`AccountAnswers`), the tickets once per batch. The route stage stores the values
with the decision (``looked_up``), so a replay or an escalation step later renders what routing
saw.

- ``account.nps`` is the account's rolling NPS as its record shows it after this response: the
  window and decay of ``metrics:`` over the account's routed responses and the batch's own
  (:func:`sync.fields.metrics.window_score`). Responses without a Salesforce contact do not
  count, as on the record.
- ``support.open_tickets`` counts the respondent's Zendesk tickets open at the moment of
  routing; ``support.tickets_last_30d`` those created in the 30 days before it. Both need the
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
    own batches, so a backlog does not load an account's answers again for every batch. Only
    answers inside the window are kept (the pass's clock only moves on)."""

    def __init__(self, store: StateStore, window: timedelta) -> None:
        self._store = store
        self._window = window
        self._by_account: dict[str, dict[str, ScoredResponse]] = {}

    def of(
        self, batch: Sequence[StoredResponse], matches: Mapping[Key, Match], now: datetime
    ) -> dict[str, list[ScoredResponse]]:
        """Each batch account's answers, the batch's own included (a new version of a stored
        answer replaces it)."""
        mine: dict[str, dict[str, ScoredResponse]] = defaultdict(dict)
        for stored in batch:
            match = matches[_key(stored)]
            if match.account is None or match.contact is None:
                continue
            r = stored.response
            answer_id = f"{r.source}:{r.response_id}"
            mine[match.account.id][answer_id] = ScoredResponse(
                contact_id=match.contact.id,
                created_at=r.created_at,
                score=r.score,
                response_id=answer_id,
            )
        start = now - self._window
        missing = sorted(set(mine) - set(self._by_account))
        if missing:
            loaded: dict[str, dict[str, ScoredResponse]] = {a: {} for a in missing}
            rows = self._store.inbox.routed(account_ids=missing, with_match=False)
            by_account: dict[str, list[StoredResponse]] = defaultdict(list)
            for row in rows:
                by_account[str(row.account_id)].append(row)
            for account_id, rows_of in by_account.items():
                kept = loaded.setdefault(account_id, {})
                for answer in scored(rows_of):
                    if answer.created_at > start:
                        kept[answer.response_id] = answer
            self._by_account.update(loaded)
        out: dict[str, list[ScoredResponse]] = {}
        for account_id, answered in mine.items():
            known = self._by_account.setdefault(account_id, {})
            known.update(answered)
            out[account_id] = list(known.values())
        return out


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
        answers = answers or AccountAnswers(store, settings.window)
        responses = answers.of(batch, matches, now)
        scores: dict[str, float | None] = {
            account_id: account_nps_at(rows, now, settings)
            for account_id, rows in responses.items()
        }
        for stored in batch:
            match = matches[_key(stored)]
            if match.account is not None and scores.get(match.account.id) is not None:
                facts[_key(stored)][ACCOUNT_NPS] = scores[match.account.id]
    if any(ruleset.reads(name) for name in SUPPORT_FIELDS) and tickets_mirrored():
        users = {
            _key(s): user for s in batch if (user := matches[_key(s)].zendesk_user) is not None
        }
        history = store.open_tickets.history(user.id for user in users.values())
        for key, user in users.items():
            spans = history.get(int(user.id), [])
            facts[key][OPEN_TICKETS] = open_at(spans, now)
            facts[key][RECENT_TICKETS] = created_within(spans, now)
    return dict(facts)
