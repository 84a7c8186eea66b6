"""Plain JSON requests on the session zenpy authenticated, for answers zenpy would parse away.

zenpy drops sideloads it has no class for (``open_ticket_count``) and pages the incremental
export by itself; for those few endpoints we read the JSON directly. The requests go through the
same guarded session (rate-limit governor, call counter), and a non-2xx answer is translated into
our error tiers exactly as zenpy's exceptions are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from zenpy.lib.exception import APIException

from connectors.zendesk import errors


class RestClient:
    """GETs of JSON under ``https://<subdomain>.<domain>/api/v2/``."""

    def __init__(self, session: requests.Session, base_url: str, timeout: float) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/") + "/api/v2/"
        self.timeout = timeout
        #: Share of the minute's request budget left after the last answer (None: not told).
        self.headroom: float | None = None

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The JSON object at ``path``; errors translated into our tiers."""
        return self.get_with_headers(path, params)[0]

    def get_with_headers(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """The JSON object at ``path`` and the answer's headers (``Retry-After`` on a poll)."""
        try:
            response = self.session.get(
                self.base_url + path, params=dict(params or {}), timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise errors.translate(exc) from exc
        self.headroom = headroom(response.headers)
        if not 200 <= response.status_code < 300:
            raise errors.translate(APIException(response.text, response=response))
        try:
            body = response.json()
        except ValueError as exc:
            raise errors.translate(exc) from exc
        if not isinstance(body, dict):
            raise errors.translate(ValueError("the answer is not a JSON object"))
        return body, response.headers


def headroom(headers: Mapping[str, str]) -> float | None:
    """``X-Rate-Limit-Remaining`` over ``X-Rate-Limit``: the share of the minute's budget left."""
    try:
        limit = float(headers.get("X-Rate-Limit") or "")
        remaining = float(headers.get("X-Rate-Limit-Remaining") or "")
    except ValueError:
        return None
    return max(0.0, min(1.0, remaining / limit)) if limit > 0 else None
