"""Organizations: lookups by id / external id, writes, bulk updates.

Names and external ids are unique per account (case-insensitive); the bulk update reports a
name clash per item, as Zendesk's job results do.
"""

from __future__ import annotations

from typing import Any

from emulators.base import Response

from . import bulk, render
from .context import Call, Context, ok
from .errors import MAX_BATCH, Invalid, bad_request, not_found, too_many_values
from .fields import accept_named
from .paging import paginate
from .records import Organization, normalize_tags
from .store import Store


# -- reads ------------------------------------------------------------------------------------
def show(ctx: Context, call: Call) -> Response:
    organization = ctx.store.organization(call.int_param("id"))
    return ok({"organization": render.organization(organization, call.base, ctx.store)})


def show_many(ctx: Context, call: Call) -> Response:
    ids, external_ids = call.id_list("ids"), call.id_list("external_ids")
    if len(ids) > MAX_BATCH or len(external_ids) > MAX_BATCH:
        name = "ids" if ids else "external_ids"
        raise too_many_values(f"Parameter {name} cannot specify more than 100 values")
    found: dict[int, Organization] = {}
    for raw in ids:
        organization = ctx.store.organizations.get(int(raw)) if raw.isdigit() else None
        if organization is not None:
            found[organization.id] = organization
    for external_id in external_ids:
        match = ctx.store.organization_by_external_id(external_id)
        if match is not None:
            found[match.id] = match
    return _listing(ctx, call, sorted(found.values(), key=lambda o: o.id))


def list_organizations(ctx: Context, call: Call) -> Response:
    return _listing(ctx, call, sorted(ctx.store.organizations.values(), key=lambda o: o.id))


def search(ctx: Context, call: Call) -> Response:
    """``organizations/search?external_id=`` or ``?name=``: exact, case-insensitive."""
    external_id, name = call.request.arg("external_id"), call.request.arg("name")
    if external_id is not None:
        match = ctx.store.organization_by_external_id(external_id)
    elif name is not None:
        match = ctx.store.organization_by_name(name)
    else:
        raise bad_request("InvalidSearch", "Provide either external_id or name")
    return _listing(ctx, call, [match] if match is not None else [])


def _listing(ctx: Context, call: Call, organizations: list[Organization]) -> Response:
    return ok(
        paginate(
            call.request,
            organizations,
            "organizations",
            lambda org, _cursor: render.organization(org, call.base, ctx.store),
            lambda org: org.id,
        )
    )


# -- writes -----------------------------------------------------------------------------------
def create(ctx: Context, call: Call) -> Response:
    organization = create_organization(ctx, call.member("organization"))
    location = f"{call.base}/api/v2/organizations/{organization.id}.json"
    body = {"organization": render.organization(organization, call.base, ctx.store)}
    return ok(body, 201, {"Location": location})


def update(ctx: Context, call: Call) -> Response:
    organization = ctx.store.organization(call.int_param("id"))
    update_organization(ctx, organization, call.member("organization"))
    return ok({"organization": render.organization(organization, call.base, ctx.store)})


def delete(ctx: Context, call: Call) -> Response:
    """204; the organization's users stay, without an organization."""
    ctx.store.remove_organization(ctx.store.organization(call.int_param("id")))
    return Response.empty(204)


def create_many(ctx: Context, call: Call) -> Response:
    batch = bulk.items(call, "organizations")

    def apply(_index: int, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Created", "id": create_organization(ctx, data).id}

    failure = bulk.failed("OrganizationCreateFailed")
    return bulk.run(ctx, call, "Creating organization", batch, apply, failure)


def update_many(ctx: Context, call: Call) -> Response:
    """``{"organizations": [...]}`` with ids, or one object for ``?ids=`` / ``?external_ids=``."""
    batch = _update_batch(ctx, call)

    def apply(_index: int, data: dict[str, Any]) -> dict[str, Any]:
        organization = _target(ctx, data)
        update_organization(ctx, organization, data)
        return {"action": "update", "id": organization.id, "status": "Updated", "success": True}

    failure = bulk.failed("OrganizationUpdateFailed")
    return bulk.run(ctx, call, "Updating organization", batch, apply, failure)


def _update_batch(ctx: Context, call: Call) -> list[dict[str, Any]]:
    ids, external_ids = call.id_list("ids"), call.id_list("external_ids")
    body = call.body()
    if (ids or external_ids) and isinstance(body.get("organization"), dict):
        if len(ids) + len(external_ids) > MAX_BATCH:
            raise too_many_values()
        shared = body["organization"]
        targets: list[dict[str, Any]] = [{**shared, "id": int(i)} for i in ids if i.isdigit()]
        for external_id in external_ids:
            match = ctx.store.organization_by_external_id(external_id)
            targets.append({**shared, "id": match.id if match else -1})
        return targets
    return bulk.items(call, "organizations")


def _target(ctx: Context, data: dict[str, Any]) -> Organization:
    org_id = data.get("id")
    if isinstance(org_id, int):
        return ctx.store.organization(org_id)
    match = ctx.store.organization_by_external_id(data.get("external_id"))
    if match is None:
        raise not_found()
    return match


def create_organization(ctx: Context, data: dict[str, Any]) -> Organization:
    now = ctx.now()
    organization = Organization(id=0, name="", created_at=now, updated_at=now)
    _apply(ctx.store, organization, data, creating=True)
    organization.id = ctx.store.new_id()
    ctx.store.index_organization(organization)
    return organization


def update_organization(ctx: Context, organization: Organization, data: dict[str, Any]) -> None:
    if _apply(ctx.store, organization, data, creating=False):
        organization.updated_at = ctx.now()
        ctx.store.index_organization(organization)


def _apply(
    store: Store, organization: Organization, data: dict[str, Any], *, creating: bool
) -> bool:
    invalid = Invalid()
    changes: dict[str, Any] = {}
    if "name" in data or creating:
        name = data.get("name")
        holder = store.organization_by_name(name) if isinstance(name, str) else None
        if not isinstance(name, str) or not name.strip():
            invalid.add("name", "Name: cannot be blank", "BlankValue")
        elif holder is not None and holder.id != organization.id:
            # Zendesk's wording, double space included.
            invalid.add("name", f"Name:  {name} has already been taken", "DuplicateValue")
        else:
            changes["name"] = name.strip()
    if "external_id" in data:
        external_id = str(data["external_id"]) if data["external_id"] not in (None, "") else None
        holder = store.organization_by_external_id(external_id)
        if holder is not None and holder.id != organization.id:
            invalid.add(
                "external_id", f"External: {external_id} has already been taken", "DuplicateValue"
            )
        changes["external_id"] = external_id
    if isinstance(data.get("domain_names"), list):
        changes["domain_names"] = [str(d).strip().lower() for d in data["domain_names"]]
    if isinstance(data.get("tags"), list):
        changes["tags"] = normalize_tags(data["tags"])
    if "group_id" in data:
        group_id = data["group_id"]
        if group_id is not None and not store.has(store.groups, group_id):
            invalid.add("group_id", "Group: is invalid", "InvalidValue")
        changes["group_id"] = group_id
    for attribute in ("details", "notes"):
        if attribute in data:
            changes[attribute] = data[attribute]
    field_values = accept_named(
        data.get("organization_fields"),
        lambda key: store.field_by_key(store.organization_fields, key),
        invalid,
    )
    invalid.raise_if_any()
    changed = False
    for attribute, value in changes.items():
        if getattr(organization, attribute) != value:
            setattr(organization, attribute, value)
            changed = True
    for key, value in field_values.items():
        if organization.organization_fields.get(key) != value:
            organization.organization_fields[key] = value
            changed = True
    return changed
