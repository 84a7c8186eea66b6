"""``nps-sync forget``: erase respondents from the store and clear what we wrote about them.

The store's side is :mod:`sync.state.forgotten`. Here is what that leaves to the systems we
write to: the NPS fields of the person's Salesforce contact and Zendesk user are cleared by
``update_fields`` actions queued in the same transaction (the next pass's drain sends them, and
retries them like any other action), and their accounts are queued for a write-back, which
recomputes the account figures without the forgotten answers. A contact that keeps answers under
another address is recomputed instead of cleared.

The history records of the answers (``NPS_Response__c``) are nps-sync's own copies: they are
deleted by ``erase_records`` actions queued with the clears. Tasks and tickets made for the
answers also hold the person's words, but deleting a customer's follow-up is a decision for
whoever runs Salesforce and Zendesk, which have their own erasure tools: they are listed, not
touched.

Forgetting runs under the locks of the route, write-back and reconcile jobs, so no pass routes
one of the answers, or records what it wrote from them, while it goes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime

from more_itertools import chunked

from sync.core.config import Config
from sync.core.errors import UnavailableError
from sync.fields.fieldmap import field_map
from sync.fields.history import history_key, store_key
from sync.stages.executors.erase import CLEAR_KIND, ERASE_KIND
from sync.state import StateStore
from sync.state.forgotten import ForgetBusyError, Person
from sync.state.outbox import ActionIntent

#: The jobs that write a person's answers or what is derived from them: none runs while they
#: are forgotten (a write-back would record the values it sends after the forget).
EXCLUDED_JOBS = ("route", "write-back", "reconcile")
#: History records erased by one action.
ERASE_CHUNK = 200


@dataclass(frozen=True, slots=True)
class Clear:
    """Fields of one record set to nothing."""

    system: str
    object: str
    record_id: str
    fields: tuple[str, ...]


@dataclass
class ForgetPlan:
    """What forgetting these people does (all of it, or nothing on a dry run)."""

    person: Person
    clears: list[Clear] = field(default_factory=list)
    #: Accounts, and contacts that keep other answers, whose fields are recomputed.
    recomputed: list[tuple[str, str]] = field(default_factory=list)
    #: The history object and its external id field, when the field map has one.
    history_object: tuple[str, str] | None = None
    #: External ids of the history records of the answers, erased by the next pass.
    history: list[str] = field(default_factory=list)
    #: Store rows removed, once done.
    removed: int = 0


def plan(config: Config, person: Person) -> ForgetPlan:
    """The clears and write-backs forgetting ``person`` calls for (pure)."""
    fmap = field_map(config)
    result = ForgetPlan(person)
    cleared = sorted(person.contact_ids - person.contacts_kept)
    if fmap.contact:
        names = tuple(m.name for m in fmap.contact)
        result.clears += [Clear("salesforce", "Contact", c, names) for c in cleared]
    if fmap.user and (cleared or not person.contact_ids):
        names = tuple(m.name for m in fmap.user)
        users = sorted(person.zendesk_user_ids)
        result.clears += [Clear("zendesk", "user", str(u), names) for u in users]
    result.recomputed = [("Account", a) for a in sorted(person.account_ids)]
    result.recomputed += [("Contact", c) for c in sorted(person.contacts_kept)]
    if fmap.history is not None and person.contact_ids:
        result.history_object = (fmap.history.object, fmap.history.external_id)
        result.history = [history_key(source, rid) for source, rid in person.answers]
    return result


def intents(result: ForgetPlan, now: datetime) -> list[ActionIntent]:
    """The ``update_fields`` actions of the clears and the ``erase_records`` actions of the
    history records, keyed by record and moment."""
    out = [
        _intent(
            (clear.system, clear.object, clear.record_id, now),
            f"{clear.object} {clear.record_id}",
            "clear_nps_fields",
            CLEAR_KIND,
            {
                "system": clear.system,
                "object": clear.object,
                "record_id": clear.record_id,
                "values": dict.fromkeys(clear.fields),
            },
        )
        for clear in result.clears
    ]
    if result.history_object is not None:
        obj, field_name = result.history_object
        out += [
            _intent(
                (obj, part[0], now),
                f"{obj} ({len(part)} records)",
                "erase_history",
                ERASE_KIND,
                {"object": obj, "external_id_field": field_name, "keys": part},
            )
            for part in chunked(result.history, ERASE_CHUNK)
        ]
    return out


def _intent(
    identity: tuple[object, ...], label: str, action: str, kind: str, payload: dict[str, object]
) -> ActionIntent:
    """One action of a forget, keyed by what it is about and when the forget ran."""
    raw = "\x1f".join(["forget", *map(str, identity)])
    return ActionIntent(
        key=hashlib.sha256(raw.encode()).hexdigest()[:40],
        source="forget",
        response_id=label,
        rule="forget",
        action=action,
        kind=kind,
        payload=payload,
        ruleset_hash="",
    )


def forget(
    store: StateStore,
    config: Config,
    emails: Sequence[str],
    now: datetime,
    *,
    dry_run: bool,
    responses: Sequence[tuple[str, str]] = (),
) -> ForgetPlan:
    """Find the people with these addresses, and these answers ((source, response id)), and
    unless ``dry_run`` forget them.

    Raises :class:`~sync.core.errors.UnavailableError` while another process routes or one of
    their follow-ups is being made: run it again in a moment.
    """
    with ExitStack() as held:
        for job in EXCLUDED_JOBS:
            if not held.enter_context(store.locks.singleton(job)):
                raise UnavailableError(
                    f"another nps-sync process is running its {job} job; nothing was forgotten",
                    fix="run nps-sync forget again in a moment",
                )
        person = store.forgotten.find(emails, now, responses=responses)
        result = plan(config, person)
        if dry_run or not person.answers:
            return result
        written = [(c.system, c.object, c.record_id) for c in result.clears]
        if result.history_object is not None:
            obj = result.history_object[0]
            written += [("salesforce", obj, store_key(key)) for key in result.history]
        try:
            erased = store.forgotten.erase(person, intents(result, now), written, now)
        except ForgetBusyError as exc:
            raise UnavailableError(
                f"{exc}; nothing was forgotten", fix="run nps-sync forget again in a minute"
            ) from exc
        result.removed = erased.rows
        return result
