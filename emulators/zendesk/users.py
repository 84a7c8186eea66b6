"""Users: lookups, exact-email search, writes (single, create-or-update, bulk jobs).

Email and external id are unique per account and compared case-insensitively. Search is
deliberately narrow: only ``email:<address>`` (exact) or ``external_id=`` are answered, because
matching on anything fuzzier is how a sync attaches a response to the wrong person.
"""

from __future__ import annotations

import re
from typing import Any

from emulators.base import Response

from . import bulk, render, sideloads
from .context import Call, Context, ok
from .errors import MAX_BATCH, Invalid, bad_request, not_found, too_many_users, too_many_values
from .fields import accept_named
from .paging import paginate
from .records import USER_ROLES, User, normalize_tags
from .store import Store

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Exactly one ``email:`` term, quoted or not; wildcards and other terms are refused.
_EMAIL_QUERY = re.compile(r'^\s*email:\s*(?:"([^"\s*]+)"|([^"\s*]+))\s*$', re.IGNORECASE)
_SIMPLE_ATTRIBUTES = ("phone", "time_zone", "locale", "notes", "details", "verified")


# -- reads ------------------------------------------------------------------------------------
def show(ctx: Context, call: Call) -> Response:
    user = ctx.store.user(call.int_param("id"))
    return ok({"user": render.user(user, call.base, ctx.store)})


def me(ctx: Context, call: Call) -> Response:
    return ok({"user": render.user(ctx.store.user(call.actor_id), call.base, ctx.store)})


def show_many(ctx: Context, call: Call) -> Response:
    ids, external_ids = call.id_list("ids"), call.id_list("external_ids")
    if len(ids) > MAX_BATCH or len(external_ids) > MAX_BATCH:
        name = "ids" if ids else "external_ids"
        raise too_many_values(f"Parameter {name} cannot specify more than 100 values")
    found: dict[int, User] = {}
    for raw in ids:
        user = ctx.store.users.get(int(raw)) if raw.isdigit() else None
        if user is not None:
            found[user.id] = user
    for external_id in external_ids:
        match = ctx.store.user_by_external_id(external_id)
        if match is not None:
            found[match.id] = match
    return _listing(ctx, call, sorted(found.values(), key=lambda u: u.id))


def list_users(ctx: Context, call: Call) -> Response:
    users = sorted(ctx.store.users.values(), key=lambda u: u.id)
    external_id = call.request.arg("external_id")
    if external_id is not None:
        match = ctx.store.user_by_external_id(external_id)
        users = [match] if match is not None else []
    roles = call.request.query.get("role", []) + call.request.query.get("role[]", [])
    if roles:
        users = [u for u in users if u.role in roles]
    return _listing(ctx, call, users)


def search(ctx: Context, call: Call) -> Response:
    external_id, query = call.request.arg("external_id"), call.request.arg("query")
    if external_id is not None:
        match = ctx.store.user_by_external_id(external_id)
        users = [match] if match is not None else []
    elif query is not None:
        users = _email_search(ctx, query)
    else:
        raise bad_request("InvalidSearch", "Provide either query or external_id")
    visible_after = ctx.now() - ctx.search_index_delay_seconds
    indexed = [u for u in users if u.created_at <= visible_after]
    return _listing(ctx, call, indexed)


def _email_search(ctx: Context, query: str) -> list[User]:
    match = _EMAIL_QUERY.match(query)
    if match is None:
        raise bad_request(
            "UnsupportedQuery",
            "This emulator answers users/search only for an exact `email:<address>` query",
        )
    email = match.group(1) or match.group(2)
    if email.lower() in ctx.rejected_searches:
        raise bad_request("InvalidSearch", f"The search query could not be parsed: {query}")
    user = ctx.store.user_by_email(email)
    return [user] if user is not None else []


def _listing(ctx: Context, call: Call, users: list[User]) -> Response:
    body = paginate(
        call.request,
        users,
        "users",
        lambda user, _cursor: render.user(user, call.base, ctx.store),
        lambda user: user.id,
    )
    body.update(sideloads.for_users(ctx.store, call.request, body["users"]))
    return ok(body)


# -- single writes ----------------------------------------------------------------------------
def create(ctx: Context, call: Call) -> Response:
    user = create_user(ctx, call.member("user"))
    return _saved(ctx, call, user, 201)


def update(ctx: Context, call: Call) -> Response:
    user = ctx.store.user(call.int_param("id"))
    update_user(ctx, user, call.member("user"))
    return _saved(ctx, call, user, 200)


def delete(ctx: Context, call: Call) -> Response:
    """Soft delete, as recorded: 200 with the user, now inactive and without its email (which
    another user may take); the user export lists it with ``permanently_deleted: false``."""
    user = ctx.store.user(call.int_param("id"))
    if not user.deleted:
        user.deleted, user.active, user.email = True, False, None
        user.updated_at = ctx.now()
        ctx.store.index_user(user)
    return ok({"user": render.user(user, call.base, ctx.store)})


def create_or_update(ctx: Context, call: Call) -> Response:
    user, created = create_or_update_user(ctx, call.member("user"))
    return _saved(ctx, call, user, 201 if created else 200)


def _saved(ctx: Context, call: Call, user: User, status: int) -> Response:
    location = f"{call.base}/api/v2/users/{user.id}.json"
    return ok({"user": render.user(user, call.base, ctx.store)}, status, {"Location": location})


# -- bulk writes ------------------------------------------------------------------------------
def create_many(ctx: Context, call: Call) -> Response:
    batch = bulk.items(call, "users", lambda: too_many_users("created"))

    def apply(_index: int, data: dict[str, Any]) -> dict[str, Any]:
        return {"id": create_user(ctx, data).id, "status": "Created"}

    return bulk.run(ctx, call, "Creating User", batch, apply, bulk.failed("UserCreateFailed"))


def create_or_update_many(ctx: Context, call: Call) -> Response:
    batch = bulk.items(call, "users", lambda: too_many_users("created or updated"))

    def apply(index: int, data: dict[str, Any]) -> dict[str, Any]:
        user, created = create_or_update_user(ctx, data)
        return {
            "index": index,
            "id": user.id,
            "action": "create" if created else "update",
            "status": "Created" if created else "Updated",
            "success": True,
        }

    return bulk.run(ctx, call, "Processing User", batch, apply, bulk.failed("UserUpdateFailed"))


def update_many(ctx: Context, call: Call) -> Response:
    """``{"users": [...]}`` with ids, or one ``{"user": {...}}`` applied to ``?ids=`` or
    ``?external_ids=``."""
    batch = _update_batch(ctx, call)

    def apply(_index: int, data: dict[str, Any]) -> dict[str, Any]:
        user = _target(ctx, data)
        update_user(ctx, user, data)
        return {"id": user.id, "action": "update", "status": "Updated", "success": True}

    return bulk.run(ctx, call, "Updating user", batch, apply, bulk.failed("UserUpdateFailed"))


def _update_batch(ctx: Context, call: Call) -> list[dict[str, Any]]:
    ids, external_ids = call.id_list("ids"), call.id_list("external_ids")
    body = call.body()
    if (ids or external_ids) and isinstance(body.get("user"), dict):
        if len(ids) + len(external_ids) > MAX_BATCH:
            raise too_many_users("updated")
        shared = body["user"]
        targets: list[dict[str, Any]] = [{**shared, "id": int(i)} for i in ids if i.isdigit()]
        for external_id in external_ids:
            user = ctx.store.user_by_external_id(external_id)
            targets.append({**shared, "id": user.id if user else -1})
        return targets
    return bulk.items(call, "users", lambda: too_many_users("updated"))


def _target(ctx: Context, data: dict[str, Any]) -> User:
    user_id = data.get("id")
    if isinstance(user_id, int):
        return ctx.store.user(user_id)
    match = ctx.store.user_by_external_id(data.get("external_id"))
    if match is None:
        raise not_found()
    return match


# -- write rules ------------------------------------------------------------------------------
def create_user(ctx: Context, data: dict[str, Any], *, default_name: bool = False) -> User:
    """A new user from API ``data``; 422 RecordInvalid when it breaks a rule."""
    now = ctx.now()
    name = data.get("name")
    if default_name and not name and isinstance(data.get("email"), str):
        name = data["email"].split("@", 1)[0]
    user = User(id=0, name="", email=None, created_at=now, updated_at=now)
    _apply(ctx.store, user, {**data, "name": name}, creating=True)
    user.id = ctx.store.new_id()
    ctx.store.index_user(user)
    return user


def update_user(ctx: Context, user: User, data: dict[str, Any]) -> None:
    if _apply(ctx.store, user, data, creating=False):
        user.updated_at = ctx.now()
        ctx.store.index_user(user)


def create_or_update_user(ctx: Context, data: dict[str, Any]) -> tuple[User, bool]:
    """Match by external id, then by email (both case-insensitive); create when neither hits."""
    existing = ctx.store.user_by_external_id(data.get("external_id"))
    if existing is None:
        existing = ctx.store.user_by_email(data.get("email"))
    if existing is None:
        return create_user(ctx, data), True
    update_user(ctx, existing, data)
    return existing, False


def _apply(store: Store, user: User, data: dict[str, Any], *, creating: bool) -> bool:
    """Validate ``data`` against the account, then write it into ``user``; True if changed."""
    invalid = Invalid()
    changes: dict[str, Any] = {}
    if "name" in data or creating:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            invalid.add("name", "Name: is too short (minimum is 1 character)", "TooShort")
        else:
            changes["name"] = name.strip()
    if "email" in data:
        changes["email"] = _checked_email(store, user, data["email"], invalid)
    if "external_id" in data:
        changes["external_id"] = _checked_external_id(store, user, data["external_id"], invalid)
    if "role" in data:
        role = data["role"] or "end-user"
        if role not in USER_ROLES:
            invalid.add("role", f"Role: {role} is not valid", "InvalidValue")
        changes["role"] = role
    if "organization_id" in data:
        org_id = data["organization_id"]
        if org_id is not None and not store.has(store.organizations, org_id):
            invalid.add("organization_id", "Organization: is invalid", "InvalidValue")
        changes["organization_id"] = org_id
    if isinstance(data.get("tags"), list):
        changes["tags"] = normalize_tags(data["tags"])
    for attribute in _SIMPLE_ATTRIBUTES:
        if attribute in data:
            changes[attribute] = data[attribute]
    field_values = accept_named(
        data.get("user_fields"), lambda key: store.field_by_key(store.user_fields, key), invalid
    )
    invalid.raise_if_any()
    changed = False
    for attribute, value in changes.items():
        if getattr(user, attribute) != value:
            setattr(user, attribute, value)
            changed = True
    for key, value in field_values.items():
        if user.user_fields.get(key) != value:
            user.user_fields[key] = value
            changed = True
    return changed


def _checked_email(store: Store, user: User, value: Any, invalid: Invalid) -> str | None:
    if value is None or value == "":
        return None
    email = str(value).strip().lower()
    if not EMAIL.match(email):
        invalid.add("email", f"Email: {value} is not properly formatted", "InvalidFormat")
        return email
    holder = store.user_by_email(email)
    if holder is not None and holder.id != user.id:
        invalid.add(
            "email", f"Email: {email} is already being used by another user", "DuplicateValue"
        )
    return email


def _checked_external_id(store: Store, user: User, value: Any, invalid: Invalid) -> str | None:
    if value is None or value == "":
        return None
    external_id = str(value)
    holder = store.user_by_external_id(external_id)
    if holder is not None and holder.id != user.id:
        invalid.add(
            "external_id", f"External: {external_id} has already been taken", "DuplicateValue"
        )
    return external_id
