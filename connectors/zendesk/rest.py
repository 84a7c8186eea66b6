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
        if not 200 <= response.status_code < 300:
            raise errors.translate(APIException(response.text, response=response))
        try:
            body = response.json()
        except ValueError as exc:
            raise errors.translate(exc) from exc
        if not isinstance(body, dict):
            raise errors.translate(ValueError("the answer is not a JSON object"))
        return body, response.headers
