"""Describe answers (global, per object, per field) rendered from the schema.

The key sets match what the real describe resources return, so code that reads describe
(``fields[].name``, ``updateable``, ``picklistValues``...) meets the same shapes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from emulators.salesforce.schema import FieldDef, Schema, SObjectDef
from emulators.salesforce.security import Access

#: What the describing user may do with a field (None: the field is invisible to them).
FieldAccess = Callable[[FieldDef], Access | None]

_SOAP_TYPES: Final = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}
_NOT_GROUPABLE: Final = frozenset({"double", "currency", "percent", "datetime"})
_MASTER_RECORD_TYPE: Final = "012000000000000AAA"


def global_describe(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [object_summary(obj, version) for obj in schema],
    }


def object_summary(obj: SObjectDef, version: str) -> dict[str, Any]:
    """The per-object entry of the global describe (also ``objectDescribe`` of basic info)."""
    return {
        "activateable": False,
        "associateEntityType": None,
        "associateParentEntity": None,
        "createable": True,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": True,
        "deprecatedAndHidden": False,
        "feedEnabled": not obj.custom,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural,
        "layoutable": True,
        "mergeable": obj.name in ("Account", "Contact", "Lead"),
        "mruEnabled": True,
        "name": obj.name,
        "queryable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "triggerable": True,
        "undeletable": True,
        "updateable": True,
        "urls": _urls(obj, version),
    }


def describe_object(
    schema: Schema, obj: SObjectDef, version: str, access: FieldAccess | None = None
) -> dict[str, Any]:
    """The full describe of ``obj`` as one user sees it: fields they cannot read are left out,
    fields they cannot edit are neither createable nor updateable."""
    summary = object_summary(obj, version)
    fields = []
    for field in obj:
        allowed = access(field) if access is not None else "edit"
        if allowed is None:
            continue
        entry = describe_field(field)
        if allowed == "read":
            entry.update(createable=False, updateable=False)
        fields.append(entry)
    described: dict[str, Any] = {
        "actionOverrides": [],
        "childRelationships": [
            _child_relationship(child, field) for child, field in schema.children_of(obj.name)
        ],
        "compactLayoutable": True,
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": fields,
        "implementedBy": None,
        "implementsInterfaces": None,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [_master_record_type(obj, version)],
        "searchLayoutable": True,
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [
            {"label": "All " + obj.label_plural.lower(), "name": "everything"},
            {"label": "My " + obj.label_plural.lower(), "name": "mine"},
        ],
    }
    described.update(summary)
    return dict(sorted(described.items()))


def describe_field(field: FieldDef) -> dict[str, Any]:
    text_like = field.is_text
    return {
        "aggregatable": field.type != "boolean" and (field.type != "textarea" or field.filterable),
        "aiPredictionField": False,
        "autoNumber": field.auto_number,
        "byteLength": field.length * 3 if text_like else (18 if field.is_id else 0),
        "calculated": False,
        "calculatedFormula": None,
        "cascadeDelete": False,
        "caseSensitive": field.case_sensitive,
        "compoundFieldName": _compound_name(field),
        "controllerName": None,
        "createable": field.createable,
        "custom": field.custom,
        "defaultValue": field.default_value if field.type == "boolean" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": field.defaulted_on_create,
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": field.precision if field.type == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": field.external_id,
        "extraTypeInfo": _extra_type_info(field),
        "filterable": field.filterable,
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": field.type not in _NOT_GROUPABLE and field.filterable,
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": field.id_lookup,
        "inlineHelpText": None,
        "label": field.label,
        "length": field.length if text_like or field.is_id else 0,
        "mask": None,
        "maskType": None,
        "name": field.name,
        "nameField": field.name_field,
        "namePointing": len(field.reference_to) > 1,
        "nillable": field.nillable,
        "permissionable": field.nillable and not field.derived and field.name != "FirstName",
        "picklistValues": [
            {
                "active": True,
                "defaultValue": value == field.default_value,
                "label": value,
                "validFor": None,
                "value": value,
            }
            for value in field.picklist_values
        ],
        "polymorphicForeignKey": len(field.reference_to) > 1,
        "precision": 0 if field.type == "int" else field.precision,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(field.reference_to),
        "relationshipName": field.relationship_name,
        "relationshipOrder": None,
        "restrictedDelete": False,
        "restrictedPicklist": field.restricted_picklist,
        "scale": field.scale,
        "searchPrefilterable": False,
        "soapType": _SOAP_TYPES.get(field.type, "xsd:string"),
        "sortable": field.sortable,
        "type": field.type,
        "unique": field.unique,
        "updateable": field.updateable,
        "writeRequiresMasterRead": False,
    }


def _compound_name(field: FieldDef) -> str | None:
    if field.name in ("FirstName", "LastName"):
        return "Name"
    if field.name.startswith("Billing"):
        return "BillingAddress"
    return None


def _extra_type_info(field: FieldDef) -> str | None:
    if field.type == "textarea":
        return "plaintextarea"
    if field.name in ("FirstName", "LastName") or (field.name == "Name" and field.derived):
        return "personname"
    return None


def _child_relationship(child: SObjectDef, field: FieldDef) -> dict[str, Any]:
    return {
        "cascadeDelete": False,
        "childSObject": child.name,
        "deprecatedAndHidden": False,
        "field": field.name,
        "junctionIdListNames": [],
        "junctionReferenceTo": [],
        "relationshipName": field.child_relationship_name,
        "restrictedDelete": False,
    }


def _master_record_type(obj: SObjectDef, version: str) -> dict[str, Any]:
    return {
        "active": True,
        "available": True,
        "defaultRecordTypeMapping": True,
        "developerName": "Master",
        "master": True,
        "name": "Master",
        "recordTypeId": _MASTER_RECORD_TYPE,
        "urls": {
            "layout": f"/services/data/v{version}/sobjects/{obj.name}/describe/layouts/"
            f"{_MASTER_RECORD_TYPE}"
        },
    }


def _urls(obj: SObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    urls = {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "listviews": f"{base}/listviews",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }
    if obj.name == "User":
        del urls["approvalLayouts"], urls["listviews"]
        urls["namedLayouts"] = f"{base}/describe/namedLayouts"
        urls["passwordUtilities"] = f"/services/data/v{version}/sobjects/User/{{ID}}/password"
    return urls
