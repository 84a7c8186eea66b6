"""What counts as a plain email address or domain, for every value that reaches a lookup.

Letters, digits and ``. _ % + ' -`` in the local part only: RFC 5322 also allows
``! # $ & * / = ? ^ ` { | } ~``, but almost no real mailbox uses them and several are search
syntax (``*`` is Zendesk's wildcard), so an address carrying them is refused rather than sent into
a query where it could match many records or make the whole request fail.
"""

from __future__ import annotations

import re
from typing import Final

from connectors.models import MAX_EMAIL_CHARS

LOCAL_PART: Final = r"[a-z0-9_%+'-]+(?:\.[a-z0-9_%+'-]+)*"
DOMAIN: Final = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
EMAIL: Final = re.compile(rf"(?P<local>{LOCAL_PART})@(?P<domain>{DOMAIN})")
_DOMAIN: Final = re.compile(DOMAIN)
MAX_DOMAIN_CHARS: Final = 253


def is_plain_email(text: str) -> bool:
    """True for a lower-case address as :data:`EMAIL` describes it, within the length limits."""
    match = EMAIL.fullmatch(text)
    return match is not None and len(text) <= MAX_EMAIL_CHARS and len(match["local"]) <= 64


def is_plain_domain(text: str) -> bool:
    """True for a lower-case host name with a dot (``acme.com``), nothing else."""
    return len(text) <= MAX_DOMAIN_CHARS and _DOMAIN.fullmatch(text) is not None
