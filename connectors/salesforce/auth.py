"""Logging in to Salesforce, and logging in again when a session expires mid-run.

Four methods, all through simple-salesforce:

- ``password``: username + password + security token, against ``domain`` (``login``, ``test``
  or a My Domain such as ``acme.my``) with the SOAP login call;
- ``jwt``: the OAuth 2.0 JWT bearer flow of a connected app (consumer key + the private key of
  its certificate) acting as ``username``;
- ``client_credentials``: the OAuth 2.0 client-credentials flow of a connected app (consumer key
  and secret); Salesforce only offers it on a My Domain, so ``domain`` must be one;
- ``session``: an existing session id, e.g. from a vault. It cannot be renewed by us.

Secrets arrive resolved (the configuration reads them from environment variables or files) and
never appear in ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce

from connectors.errors import ConfigError
from connectors.salesforce import errors

METHODS = ("session", "password", "jwt", "client_credentials")
#: Domains that are not a My Domain; the client-credentials flow is refused on them.
SHARED_LOGIN_DOMAINS = ("login", "test")


@dataclass(frozen=True, slots=True)
class SalesforceCredentials:
    """How to log in. Exactly one method's fields are used; secrets come resolved."""

    instance_url: str
    method: str = "session"  # session | password | jwt | client_credentials
    api_version: str = "59.0"
    session_id: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str = "login"
    consumer_key: str | None = None
    consumer_secret: str | None = None
    private_key: str | None = None

    def __repr__(self) -> str:
        return (
            f"SalesforceCredentials(instance_url={self.instance_url!r}, method={self.method!r}, "
            f"username={self.username!r}, domain={self.domain!r})"
        )

    @property
    def renewable(self) -> bool:
        """Whether a fresh session can be had by logging in again (not for a bare session id)."""
        return self.method != "session"


def login_host(credentials: SalesforceCredentials) -> str:
    """The host a login goes to: the instance for a session id, else ``<domain>.salesforce.com``."""
    if credentials.method == "session":
        return urlsplit(credentials.instance_url).netloc or credentials.instance_url
    return f"{credentials.domain}.salesforce.com"


def login(
    credentials: SalesforceCredentials, *, session: requests.Session | None = None
) -> Salesforce:
    """Log in with the configured method and return a simple-salesforce client.

    Pass a session from :func:`connectors.transport.make_session`, which sets request timeouts.
    Wrong credentials raise :class:`~connectors.errors.ConfigError`.
    """
    c = credentials
    common: dict[str, Any] = {"version": c.api_version, "session": session}
    try:
        if c.method == "session":
            return Salesforce(instance_url=c.instance_url, session_id=c.session_id, **common)
        if c.method == "password":
            return Salesforce(
                username=c.username,
                password=c.password,
                security_token=c.security_token or "",
                domain=c.domain,
                **common,
            )
        if c.method == "jwt":
            return Salesforce(
                username=c.username,
                consumer_key=c.consumer_key,
                privatekey=c.private_key,
                domain=c.domain,
                **common,
            )
        if c.method == "client_credentials":
            if c.domain in SHARED_LOGIN_DOMAINS:
                raise ConfigError(
                    "the client-credentials flow needs your My Domain as salesforce.auth.domain "
                    f"(e.g. 'acme.my'), not {c.domain!r}",
                    system=errors.SYSTEM,
                )
            return Salesforce(
                consumer_key=c.consumer_key,
                consumer_secret=c.consumer_secret,
                domain=c.domain,
                **common,
            )
    except errors.CLIENT_ERRORS as exc:
        translated = errors.translate(exc)
        if isinstance(translated, ConfigError):  # a refused login: say where it was refused
            reason = translated.message.removeprefix("login failed: ")
            translated = ConfigError(
                f"{login_host(c)} refused the login: {reason}", system=errors.SYSTEM
            )
        raise translated from exc
    except ValueError as exc:
        # The private key cannot sign the JWT assertion (not a PEM key, wrong algorithm).
        raise ConfigError(f"cannot sign the JWT: {exc}", system=errors.SYSTEM) from exc
    raise ConfigError(f"unknown auth method {c.method!r}", system=errors.SYSTEM)
