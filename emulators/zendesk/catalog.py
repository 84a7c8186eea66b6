"""Account catalogue reads: brands, groups and custom field definitions."""

from __future__ import annotations

from emulators.base import Response

from . import render
from .context import Call, Context, ok
from .errors import not_found
from .paging import paginate
from .records import CustomField


def list_brands(ctx: Context, call: Call) -> Response:
    brands = sorted(ctx.store.brands.values(), key=lambda b: (b.name, b.id))
    return ok(
        paginate(
            call.request, brands, "brands", lambda b, _c: render.brand(b, call.base), lambda b: b.id
        )
    )


def show_brand(ctx: Context, call: Call) -> Response:
    return ok({"brand": render.brand(ctx.store.brand(call.int_param("id")), call.base)})


def list_groups(ctx: Context, call: Call) -> Response:
    groups = sorted(ctx.store.groups.values(), key=lambda g: g.id)
    return ok(
        paginate(
            call.request, groups, "groups", lambda g, _c: render.group(g, call.base), lambda g: g.id
        )
    )


def show_group(ctx: Context, call: Call) -> Response:
    return ok({"group": render.group(ctx.store.group(call.int_param("id")), call.base)})


def list_ticket_fields(ctx: Context, call: Call) -> Response:
    fields = _ordered(ctx.store.ticket_fields)
    return ok(
        paginate(
            call.request,
            fields,
            "ticket_fields",
            lambda f, _c: render.ticket_field(f, call.base),
            lambda f: f.id,
        )
    )


def show_ticket_field(ctx: Context, call: Call) -> Response:
    definition = _one(ctx.store.ticket_fields, call.int_param("id"))
    return ok({"ticket_field": render.ticket_field(definition, call.base)})


def list_user_fields(ctx: Context, call: Call) -> Response:
    return _custom_list(call, ctx.store.user_fields, "user_fields")


def show_user_field(ctx: Context, call: Call) -> Response:
    definition = _one(ctx.store.user_fields, call.int_param("id"))
    return ok({"user_field": render.custom_field(definition, call.base, "user_fields")})


def list_organization_fields(ctx: Context, call: Call) -> Response:
    return _custom_list(call, ctx.store.organization_fields, "organization_fields")


def show_organization_field(ctx: Context, call: Call) -> Response:
    definition = _one(ctx.store.organization_fields, call.int_param("id"))
    body = render.custom_field(definition, call.base, "organization_fields")
    return ok({"organization_field": body})


def _custom_list(call: Call, catalogue: dict[int, CustomField], collection: str) -> Response:
    return ok(
        paginate(
            call.request,
            _ordered(catalogue),
            collection,
            lambda f, _c: render.custom_field(f, call.base, collection),
            lambda f: f.id,
        )
    )


def _ordered(catalogue: dict[int, CustomField]) -> list[CustomField]:
    """Id order, which is also the cursor order."""
    return sorted(catalogue.values(), key=lambda f: f.id)


def _one(catalogue: dict[int, CustomField], field_id: int) -> CustomField:
    definition = catalogue.get(field_id)
    if definition is None:
        raise not_found()
    return definition
