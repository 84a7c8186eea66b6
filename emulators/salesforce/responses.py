"""Small HTTP helpers shared by the resource modules: JSON in, Salesforce-style JSON out."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import unquote

from emulators.base import Request, Response
from emulators.salesforce.errors import ApiError, json_parser_error, not_found
from emulators.salesforce.schema import SObjectDef
from emulators.salesforce.store import Store

JSON_TYPE: Final = "application/json;charset=UTF-8"


def sf_json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    merged = {"Content-Type": JSON_TYPE, **(headers or {})}
    return Response(status, json.dumps(payload).encode("utf-8"), merged)


def error(exc: ApiError, headers: dict[str, str] | None = None) -> Response:
    return sf_json(exc.body(), exc.status, headers)


def read_json(request: Request) -> Any:
    """The request body as JSON; a syntax error is Salesforce's ``JSON_PARSER_ERROR``."""
    if not request.body:
        raise json_parser_error("No content to map due to end-of-input")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise json_parser_error(f"Unexpected character: {exc}") from None


def read_object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise json_parser_error("Cannot deserialize instance of sObject out of START_ARRAY token")
    return body


def version(request: Request) -> str:
    return request.params.get("version", "59.0")


def path_param(request: Request, name: str) -> str:
    return unquote(request.params.get(name, ""))


def sobject_of(store: Store, request: Request) -> SObjectDef:
    """The sObject named in the path; unknown types are 404 ``NOT_FOUND`` as in Salesforce."""
    found = store.schema.get(path_param(request, "sobject"))
    if found is None:
        raise not_found()
    return found
