"""Logins and sessions: SOAP ``login``, the OAuth 2.0 token endpoint, bearer-session checks.

Three OAuth grants are accepted, as simple-salesforce sends them: ``password``,
``urn:ietf:params:oauth:grant-type:jwt-bearer`` (any well-formed JWT whose ``sub`` is a known
user; the signature is verified only when a public key was registered for the consumer key) and
``client_credentials`` (runs as the connected app's user). With no connected app registered,
any consumer key and secret are accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs

import jwt

from emulators.base import Request, Response
from emulators.salesforce.ids import ORG_ID_18

JWT_GRANT: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_TOKEN_CHARS: Final = string.ascii_letters + string.digits + "._"
_SIGNING_KEY: Final = b"nps-sync-emulator"
_INVALID_LOGIN: Final = "Invalid username, password, security token; or user locked out."


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    password: str
    security_token: str
    user_id: str


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    consumer_key: str
    consumer_secret: str
    run_as: str
    public_key: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    username: str
    user_id: str
    issued_at: datetime


class OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


class AuthRegistry:
    """Users who may log in, connected apps, and the live sessions."""

    def __init__(self, rng: random.Random, clock: Callable[[], datetime]) -> None:
        self._rng = rng
        self._clock = clock
        self.credentials: dict[str, Credential] = {}
        self.apps: dict[str, ConnectedApp] = {}
        self.sessions: dict[str, Session] = {}
        self.ttl_seconds: float | None = None

    def add(self, credential: Credential) -> None:
        self.credentials[credential.username.lower()] = credential

    def issue(self, username: str) -> str:
        credential = self.credentials.get(username.lower())
        if credential is None:
            raise KeyError(f"unknown user {username!r}")
        token = ORG_ID_18[:15] + "!" + "".join(self._rng.choices(_TOKEN_CHARS, k=96))
        self.sessions[token] = Session(
            token, credential.username, credential.user_id, self._clock()
        )
        return token

    def session(self, authorization: str) -> Session | None:
        """The live session named by an ``Authorization: Bearer`` (or ``OAuth``) header."""
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() not in ("bearer", "oauth"):
            return None
        found = self.sessions.get(token.strip())
        if found is None:
            return None
        if self.ttl_seconds is not None:
            age = (self._clock() - found.issued_at).total_seconds()
            if age > self.ttl_seconds:
                del self.sessions[found.token]
                return None
        return found

    def expire_all(self) -> None:
        self.sessions.clear()

    def check_password(self, username: str, secret: str) -> Credential | None:
        """Password plus security token, or the bare password for a user without a token."""
        credential = self.credentials.get(username.lower())
        if credential is None:
            return None
        if hmac.compare_digest(secret, credential.password + credential.security_token):
            return credential
        return None

    # -- OAuth ---------------------------------------------------------------------------------
    def oauth(self, form: dict[str, str], authorization: str) -> Credential:
        grant = form.get("grant_type", "")
        if grant == "password":
            self._check_client(form.get("client_id", ""), form.get("client_secret"))
            credential = self.check_password(form.get("username", ""), form.get("password", ""))
            if credential is None:
                raise OAuthError("invalid_grant", "authentication failure")
            return credential
        if grant == JWT_GRANT:
            return self._jwt(form.get("assertion", ""))
        if grant == "client_credentials":
            key, secret = _basic_auth(authorization) or (
                form.get("client_id", ""),
                form.get("client_secret", ""),
            )
            app = self._check_client(key, secret)
            run_as = app.run_as if app else next(iter(self.credentials.values())).username
            return self.credentials[run_as.lower()]
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _check_client(self, key: str, secret: str | None) -> ConnectedApp | None:
        if not self.apps:
            return None
        app = self.apps.get(key)
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if secret is not None and not hmac.compare_digest(secret, app.consumer_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        return app

    def _jwt(self, assertion: str) -> Credential:
        claims = _jwt_claims(assertion)
        issuer = str(claims.get("iss", ""))
        app = self.apps.get(issuer)
        if self.apps and app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if app is not None and app.public_key:
            try:
                jwt.decode(
                    assertion,
                    app.public_key,
                    algorithms=["RS256"],
                    options={"verify_aud": False},
                )
            except jwt.PyJWTError:
                raise OAuthError("invalid_grant", "invalid assertion") from None
        expires = claims.get("exp")
        if expires is not None and _number(expires) < self._clock().timestamp():
            raise OAuthError("invalid_grant", "invalid assertion")
        credential = self.credentials.get(str(claims.get("sub", "")).lower())
        if credential is None:
            raise OAuthError("invalid_grant", "invalid assertion")
        return credential


def soap_login(registry: AuthRegistry, request: Request, instance_host: str) -> Response:
    """``POST /services/Soap/u/NN.N``: the partner API ``login`` call simple-salesforce makes."""
    version = request.params.get("version", "59.0")
    body = request.body.decode("utf-8", errors="replace")
    username = _element(body, "username")
    password = _element(body, "password")
    credential = registry.check_password(username or "", password or "")
    if credential is None:
        return _soap_fault("INVALID_LOGIN", _INVALID_LOGIN)
    token = registry.issue(credential.username)
    origin = f"https://{instance_host}"
    org = ORG_ID_18[:15]
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{origin}/services/Soap/m/{version}/{org}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{origin}/services/Soap/u/{version}/{org}</serverUrl>"
        f"<sessionId>{html.escape(token)}</sessionId>"
        f"<userId>{credential.user_id}</userId>"
        "<userInfo>"
        f"<organizationId>{ORG_ID_18}</organizationId>"
        f"<userEmail>{html.escape(credential.username)}</userEmail>"
        f"<userId>{credential.user_id}</userId>"
        f"<userName>{html.escape(credential.username)}</userName>"
        "</userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )
    return Response(200, xml.encode("utf-8"), {"Content-Type": "text/xml;charset=UTF-8"})


def oauth_token(registry: AuthRegistry, request: Request, instance_host: str) -> Response:
    """``POST /services/oauth2/token`` for the password, JWT and client-credentials grants."""
    form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", errors="replace")).items()}
    try:
        credential = registry.oauth(form, request.header("authorization"))
    except OAuthError as exc:
        return Response.json({"error": exc.error, "error_description": exc.description}, 400)
    token = registry.issue(credential.username)
    issued_at = str(int(registry.sessions[token].issued_at.timestamp() * 1000))
    identity = f"https://login.salesforce.com/id/{ORG_ID_18}/{credential.user_id}"
    signature = hmac.new(_SIGNING_KEY, (identity + issued_at).encode(), hashlib.sha256).digest()
    return Response.json(
        {
            "access_token": token,
            "instance_url": f"https://{instance_host}",
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode("ascii"),
        }
    )


def _element(xml: str, name: str) -> str | None:
    match = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", xml, re.DOTALL)
    return html.unescape(match.group(1)) if match else None


def _soap_fault(code: str, message: str) -> Response:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {html.escape(message)}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Response(500, xml.encode("utf-8"), {"Content-Type": "text/xml;charset=UTF-8"})


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, sep, secret = decoded.partition(":")
    return (key, secret) if sep else None


def _jwt_claims(assertion: str) -> dict[str, Any]:
    """The payload of a compact JWS, checked for shape only."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_grant", "invalid assertion")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except (ValueError, binascii.Error):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if not isinstance(header, dict) or "alg" not in header or not isinstance(claims, dict):
        raise OAuthError("invalid_grant", "invalid assertion")
    return claims


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
