"""JSON Schema of the rules file, for editors (``# yaml-language-server: $schema=...``) and docs.

Generated from the pydantic model, except conditions: the model stores them normalized, so their
schema (the shape admins write, with every built-in field and its operators) is built here from
the field and operator catalogues. Actions are told apart by ``type`` with ``if``/``then`` rather
than pydantic's ``oneOf`` + ``discriminator`` (an OpenAPI keyword that JSON Schema validators
ignore): with ``oneOf`` an editor tries every action kind and blames the keys of the others.
"""

from __future__ import annotations

from typing import Any

from rules.fields import BUILTIN_FIELDS, CUSTOM_FIELD_PATTERN, FieldSpec, FieldType
from rules.model import RulesFile
from rules.operators import OPERATORS, OperandShape, operators_for

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_CONDITION_MARK = "x-rules-condition"
_CONDITION_REF = {"$ref": "#/$defs/Condition"}


def rules_json_schema() -> dict[str, Any]:
    """The JSON Schema of a version 1 rules file."""
    schema = RulesFile.model_json_schema(by_alias=True)
    schema = _replace_condition_marks(schema)
    schema = _discriminate_by_type(schema)
    definitions = schema.setdefault("$defs", {})
    definitions["Condition"] = _condition_schema()
    for field_type in FieldType:
        definitions[_test_name(field_type)] = _field_test_schema(field_type)
    return {"$schema": SCHEMA_DIALECT, **schema, "title": "nps-sync rules file"}


def _replace_condition_marks(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get(_CONDITION_MARK):
            return dict(_CONDITION_REF)
        return {key: _replace_condition_marks(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace_condition_marks(item) for item in node]
    return node


def _discriminate_by_type(node: Any) -> Any:
    """Rewrite ``oneOf`` + ``discriminator`` into ``type``-keyed ``if``/``then`` branches."""
    if isinstance(node, list):
        return [_discriminate_by_type(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _discriminate_by_type(value) for key, value in node.items()}
    discriminator = node.get("discriminator")
    if not isinstance(discriminator, dict) or "oneOf" not in node:
        return node
    key: str = discriminator["propertyName"]
    mapping: dict[str, str] = discriminator["mapping"]
    rest = {k: v for k, v in node.items() if k not in ("oneOf", "discriminator")}
    return {
        **rest,
        "type": "object",
        "required": [key],
        "properties": {key: {"enum": list(mapping), "description": "the kind of action"}},
        "allOf": [
            {
                "if": {"properties": {key: {"const": value}}, "required": [key]},
                "then": {"$ref": ref},
            }
            for value, ref in mapping.items()
        ],
    }


def _condition_schema() -> dict[str, Any]:
    groups: dict[str, Any] = {
        "all": {
            "type": "array",
            "minItems": 1,
            "items": _CONDITION_REF,
            "description": "every condition holds",
        },
        "any": {
            "type": "array",
            "minItems": 1,
            "items": _CONDITION_REF,
            "description": "at least one condition holds",
        },
        "not": {**_CONDITION_REF, "description": "the condition does not hold"},
    }
    fields = {name: _field_ref(spec) for name, spec in BUILTIN_FIELDS.items()}
    return {
        "type": "object",
        "description": "all/any/not of conditions, or one field compared with a value",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {**groups, **fields},
        "patternProperties": {CUSTOM_FIELD_PATTERN: {}},
        "additionalProperties": False,
    }


def _field_ref(spec: FieldSpec) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{_test_name(spec.type)}", "description": spec.description}


def _test_name(field_type: FieldType) -> str:
    return f"{field_type.value.capitalize()}FieldTest"


_VALUE_SCHEMA = {
    FieldType.STRING: {"type": "string"},
    FieldType.INTEGER: {"type": "number"},
    FieldType.NUMBER: {"type": "number"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.LIST: {"type": "string"},
}


def _field_test_schema(field_type: FieldType) -> dict[str, Any]:
    value = _VALUE_SCHEMA[field_type]
    listed = {"type": "array", "minItems": 1, "items": value}
    operand_schemas = {
        OperandShape.SCALAR: value,
        OperandShape.LIST: listed,
        OperandShape.RANGE: {"type": "array", "minItems": 2, "maxItems": 2, "items": value},
        OperandShape.PATTERN: {"type": "string", "format": "regex"},
        OperandShape.FLAG: {"type": "boolean"},
    }
    operators = {
        name: operand_schemas[OPERATORS[name].operand] for name in operators_for(field_type)
    }
    spelled_out = {
        "type": "object",
        "minProperties": 1,
        "properties": operators,
        "additionalProperties": False,
    }
    shorthands = {FieldType.BOOLEAN: [value], FieldType.LIST: []}.get(field_type, [value, listed])
    return {"anyOf": [*shorthands, spelled_out]}
