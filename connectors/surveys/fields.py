"""Defensive parsing of the values every survey source delivers.

Survey data comes from outside: an address with a control character in it, a score of 11, a
timestamp in the year 3000. Each parser here either returns a clean value or raises
:class:`FieldError` with a reason an admin can act on; the sources turn that into a
:class:`~connectors.models.SourceProblem` and carry on with the next record.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from connectors.addresses import is_plain_email
from connectors.models import MAX_EMAIL_CHARS, MAX_RESPONSE_ID_CHARS, SurveyResponse

MAX_COMMENT_CHARS: Final = 32_000
MAX_PROPERTY_CHARS: Final = 1_000
MAX_NAME_CHARS: Final = 255
MAX_ID_CHARS: Final = MAX_RESPONSE_ID_CHARS
FUTURE_SKEW: Final = timedelta(minutes=5)
"""How far past the run's start a timestamp may be (clock drift) before it counts as bogus."""
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
TRUNCATION_PROPERTY: Final = "comment_truncated_from"
"""Set on a response whose comment was cut to :data:`MAX_COMMENT_CHARS`: the original length."""

# ASCII digits only: ``\d`` would also take full-width and other scripts' digits, which
# no survey tool sends as a score or a time and which read as another number than they show.
_UNIX_TEXT: Final = re.compile(r"[0-9]{9,11}(?:\.[0-9]+)?")
_SCORE_TEXT: Final = re.compile(r"[0-9]{1,2}")
# Control characters (Unicode category Cc) but newline and tab, lone surrogates (Cs), which
# cannot be stored as UTF-8, and the bidirectional embeddings, overrides and isolates, which
# make a terminal, a CRM page or a ticket show text in another order than it was written
# (right-to-left text displays correctly without them): one regex pass for all of them.
_UNPRINTABLE: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]"
)


class FieldError(ValueError):
    """A value that cannot be used; the message is the reason shown to the admin."""


class FutureMomentError(FieldError):
    """A moment ahead of this machine's clock: the record is refused now but may be read once
    the clock has caught up (an exporter whose clock runs ahead, local times read as UTC)."""

    def __init__(self, message: str, moment: datetime) -> None:
        super().__init__(message)
        self.moment = moment

    @property
    def readable_after(self) -> datetime:
        """The first moment at which the record is no longer ahead of the clock."""
        return self.moment - FUTURE_SKEW


def _shown(value: object) -> str:
    """A rejected value as a problem quotes it, cut to 60 characters. An object or a list is
    named, never quoted: where text was expected it holds what the respondent wrote."""
    if isinstance(value, dict):
        return "(an object)"
    if isinstance(value, list | tuple):
        return "(a list)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Runs of two or more letters: a value with two of them reads as words, not as a number or date.
_LETTERS: Final = re.compile(r"[^\W\d_]{2,}")


def shown_id(value: object, *, missing: str) -> str:
    """A record's id as a problem's location names it (``missing`` when it has none usable):
    an id with a line break, an escape sequence or another unprintable character is quoted with
    them escaped, and one longer than any usable id cut, so the id cannot forge a log line or
    drive a terminal."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return missing
    text = str(value)
    if not text.isprintable():
        text = repr(text)
    return text if len(text) <= MAX_ID_CHARS else text[:MAX_ID_CHARS] + "..."


def _cell(value: object) -> str:
    """A rejected value as a problem shows it: as it is when it looks like a number or a date
    (``'11'``, ``'31/12/2025'``), cut to its words' first letters when it reads as prose: a
    shifted column puts a comment or a name where a score was expected."""
    if isinstance(value, str) and (len(_LETTERS.findall(value)) >= 2 or len(value) > 40):
        return _shown(masked(value))
    return _shown(value)


def parse_json(raw: bytes) -> object:
    """The JSON document in ``raw`` (UTF-8), or :class:`FieldError` saying why it is not one.

    Besides bad syntax, a document can be valid JSON that Python will not read: arrays or objects
    nested about a thousand deep (the decoder's recursion limit) and integers of more than 4,300
    digits (its conversion limit). Each is a reason about the record, never a crash."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise FieldError("not valid UTF-8") from None
    except json.JSONDecodeError as error:
        # Some of json's messages end with "at" already ("Unterminated string starting at").
        where = "" if error.msg.endswith(" at") else " at"
        raise FieldError(f"invalid JSON: {error.msg}{where} column {error.colno}") from None
    except RecursionError:
        raise FieldError("invalid JSON: nested too deeply") from None
    except ValueError:  # the only other ValueError json raises: int() refusing the digits
        raise FieldError("invalid JSON: a number with more than 4,300 digits") from None


def normalize_email(raw: object) -> str:
    """Strip and lowercase an address, rejecting anything that is not plainly an address.

    Whitespace or control characters inside, several ``@``, a domain without a dot, or wildcard
    and search characters are rejected rather than repaired: a guessed address could match the
    wrong customer, and a wildcard could match many.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise FieldError("missing email")
    if not isinstance(raw, str):
        raise FieldError(f"email is not text: {_shown(raw)}")
    email = raw.strip().lower()
    if not is_plain_email(email):
        raise FieldError(f"invalid email ({email_fault(email)}): {_shown(masked(raw.strip()))}")
    return email


#: What an address may hold besides letters and digits (:data:`connectors.addresses.EMAIL`).
_ADDRESS_MARKS: Final = frozenset("._%+'-@")
_WORD: Final = re.compile(r"\w+")


def email_fault(email: str) -> str:
    """What keeps a lower-cased text from being a plain address, in words an admin can act on."""
    if len(email) > MAX_EMAIL_CHARS:
        return f"longer than {MAX_EMAIL_CHARS} characters"
    if _UNPRINTABLE.search(email):
        return "a control character inside"
    if any(c.isspace() for c in email):
        return "a space inside"
    if email.count("@") == 0:
        return "a full-width ＠, not @" if "＠" in email or "﹫" in email else "no @"
    if email.count("@") > 1:
        return "more than one @"
    local, domain = email.split("@")
    if not local or not domain:
        return "nothing before the @" if not local else "nothing after the @"
    odd = next(
        (c for c in email if not (c.isascii() and c.isalnum()) and c not in _ADDRESS_MARKS), None
    )
    if odd is not None:
        return f"the character {odd!r}" if odd.isascii() else "characters outside ASCII"
    if "." not in domain:
        return "no dot in the domain"
    return "not a plain address"


def masked(text: str) -> str:
    """``text`` with each word cut to its first character: ``Jane Doe <jane@acme.com>`` becomes
    ``J*** D*** <j***@a***.c***>``. Its shape (spaces, brackets, @, dots) shows what to fix; the
    address itself, a person's identity, is not repeated in problem lists and logs."""
    return _WORD.sub(lambda m: m.group()[0] + "***", text)


def parse_score(raw: object) -> int:
    """An NPS score: a whole number from 0 to 10 (as a number, or as text in files)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise FieldError("missing score")
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():  # JSON's 9.0: a whole number written so
        value = int(raw)
    elif isinstance(raw, str) and _SCORE_TEXT.fullmatch(raw.strip()):
        value = int(raw.strip())
    if value is None or not 0 <= value <= 10:
        raise FieldError(f"score {_cell(raw)} is not a whole number from 0 to 10")
    return value


def parse_timestamp(raw: object, *, field: str) -> datetime:
    """A UTC moment from Unix seconds (number or digits) or ISO 8601 text.

    ISO text without an offset is read as UTC, which is what exports without one mean in
    practice. Moments before 2000 are rejected as placeholders (0, -1) rather than data.
    """
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise FieldError(f"missing {field}")
    try:
        moment = _to_datetime(raw)
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is None:
        raise FieldError(f"{field} {_cell(raw)} is not a Unix time or ISO 8601 date")
    if moment < EARLIEST:
        raise FieldError(f"{field} {moment.isoformat()} is before {EARLIEST.year}")
    return moment


def _to_datetime(raw: object) -> datetime | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            return None
        return datetime.fromtimestamp(raw, tz=UTC)
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if _UNIX_TEXT.fullmatch(text):
        return datetime.fromtimestamp(float(text), tz=UTC)
    moment = datetime.fromisoformat(text.upper())  # RFC 3339 allows a lower-case t and z
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def check_not_future(moment: datetime, *, until: datetime, field: str) -> None:
    """Reject a moment after the run's start (plus clock skew): it cannot have happened yet."""
    if moment > until + FUTURE_SKEW:
        raise FutureMomentError(
            f"{field} {moment.isoformat()} is in the future (ahead of this machine's clock)",
            moment,
        )


def clean_text(raw: object, *, field: str, limit: int) -> str:
    """Text without control characters (newline and tab survive), stripped, cut to ``limit``."""
    text, _ = _clean(raw, field=field, limit=limit)
    return text


def clean_comment(raw: object) -> tuple[str, int | None]:
    """A survey comment as text we can store and render: ``(text, original length if cut)``."""
    return _clean(raw, field="comment", limit=MAX_COMMENT_CHARS)


def _clean(raw: object, *, field: str, limit: int) -> tuple[str, int | None]:
    if raw is None:
        return "", None
    if not isinstance(raw, str):
        raise FieldError(f"{field} is not text: {_shown(raw)}")
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _UNPRINTABLE.sub("", text).strip()
    if len(text) > limit:
        return text[:limit], len(text)
    return text, None


def clean_properties(raw: Mapping[Any, object]) -> dict[str, str]:
    """Properties as short, clean strings; ``None`` values are dropped, nested values as JSON."""
    cleaned: dict[str, str] = {}
    for key, value in raw.items():
        name = clean_text(str(key), field="property name", limit=MAX_PROPERTY_CHARS)
        if not name or value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
        cleaned[name] = clean_text(text, field=f"property {name}", limit=MAX_PROPERTY_CHARS)
    return cleaned


def derive_response_id(email: str, created_at: datetime, score: int) -> str:
    """A stable id for a record that has none, so re-reading it is recognised as the same."""
    material = f"{email}\x1f{created_at.isoformat()}\x1f{score}".encode()
    return "derived-" + hashlib.sha256(material).hexdigest()[:24]


def build_response(
    *,
    source: str,
    response_id: object,
    email: object,
    score: object,
    comment: object,
    created_at: object,
    updated_at: object,
    until: datetime,
    person_name: object = None,
    properties: Mapping[Any, object] | None = None,
    survey_type: object = None,
    channel: object = None,
    language: object = None,
    permalink: object = None,
    derive_missing_id: bool = False,
) -> SurveyResponse:
    """Validate raw values into a :class:`SurveyResponse`, or raise :class:`FieldError`.

    ``updated_at`` defaults to ``created_at`` and is never earlier than it: a clock glitch at the
    source should not cost us the response. A missing id (``None``) is derived from the answer
    only where the source documents it (``derive_missing_id``, for files without an id column);
    an id that is there but empty is always an error, since two such records would merge.
    """
    clean_email = normalize_email(email)
    clean_score = parse_score(score)
    created = parse_timestamp(created_at, field="created_at")
    check_not_future(created, until=until, field="created_at")
    updated = created
    if updated_at is not None and updated_at != "":
        updated = max(parse_timestamp(updated_at, field="updated_at"), created)
        check_not_future(updated, until=until, field="updated_at")
    if response_id is None and derive_missing_id:
        clean_id = derive_response_id(clean_email, created, clean_score)
    elif response_id is None:
        raise FieldError("missing response id")
    elif isinstance(response_id, str) and not response_id.strip():
        raise FieldError("empty response id")
    else:
        if isinstance(response_id, bool) or not isinstance(response_id, str | int):
            raise FieldError(f"response id {_shown(response_id)} is not text or a number")
        clean_id = clean_text(str(response_id), field="response id", limit=MAX_ID_CHARS + 1)
        unusable = not clean_id or clean_id != str(response_id).strip()
        if unusable or len(clean_id) > MAX_ID_CHARS or any(c in clean_id for c in "\n\t"):
            if len(clean_id) > MAX_ID_CHARS:
                reason = f"response id longer than {MAX_ID_CHARS} characters"
                raise FieldError(f"{reason}: {_shown(response_id)}")
            raise FieldError(f"invalid response id {_shown(response_id)}")
    text, original_length = clean_comment(comment)
    clean_props = clean_properties(properties or {})
    if original_length is not None:
        clean_props[TRUNCATION_PROPERTY] = str(original_length)
    return SurveyResponse(
        source=source,
        response_id=clean_id,
        email=clean_email,
        score=clean_score,
        comment=text,
        created_at=created,
        updated_at=updated,
        person_name=clean_text(person_name, field="name", limit=MAX_NAME_CHARS),
        properties=clean_props,
        survey_type=clean_text(survey_type, field="survey type", limit=64) or "relationship",
        channel=clean_text(channel, field="channel", limit=64).lower(),
        language=clean_text(language, field="language", limit=35),
        permalink=clean_link(permalink),
    )


def clean_link(raw: object) -> str:
    """A link to the response in the survey tool, kept only when it is an http(s) address: it
    becomes a link in Salesforce, in Zendesk and in the report, where ``javascript:`` or
    ``data:`` would run or show something else when clicked. Anything else is left out; the
    response is kept."""
    text = clean_text(raw, field="permalink", limit=2_000)
    scheme, _, rest = text.partition("://")
    return text if scheme.lower() in ("http", "https") and rest and " " not in text else ""
