"""Credential checks: API tokens (basic ``email/token:TOKEN``) and OAuth bearer tokens.

Passwords are refused: Zendesk has retired password access to the API.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from emulators.base import Request


class Credentials:
    """Who may call, mapped to the email of the user acting."""

    def __init__(self) -> None:
        self._api_tokens: dict[str, str] = {}
        self._oauth_tokens: dict[str, str] = {}

    def add_api_token(self, email: str, token: str) -> None:
        self._api_tokens[email.strip().lower()] = token

    def add_oauth_token(self, token: str, email: str) -> None:
        self._oauth_tokens[token] = email.strip().lower()

    def identify(self, request: Request) -> str | None:
        """The acting user's email, or None when the request does not authenticate."""
        header = request.header("authorization")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return self._oauth_tokens.get(value.strip())
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, secret = decoded.partition(":")
        email, marker, _ = user.rpartition("/")
        if marker != "/" or not user.endswith("/token"):
            return None
        expected = self._api_tokens.get(email.strip().lower())
        if expected is None or not hmac.compare_digest(expected, secret):
            return None
        return email.strip().lower()
