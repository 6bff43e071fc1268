"""A STRUCTURAL SUBSET of the OCDS 1.1 release-package and release schemas, written for
these tests. It is NOT the official schema.

Why a subset: the tests must not fetch anything at run time, vendoring the official
files would copy third-party files into the project, and no package on PyPI or npm
that we checked ships them as installed data (ocdskit, ocdsmerge, ocdsextensionregistry,
libcoveocds, ocds-babel, spoonbill, libcoveoc4ids and followthemoney-ocds ship code
only; a few sdists carry copies among their own test fixtures, which pip never
installs).

What it holds, as OCDS 1.1(.5) defines it: the package's required fields (uri,
publisher, publishedDate, releases, version); a release's required fields (ocid, id,
date, tag, initiationType) and their types; the closed codelists we use (releaseTag,
initiationType, awardStatus, contractStatus) and the currency codes we send; the
shapes of Organization, OrganizationReference, Identifier, Award, Contract, Item and
Value with their required fields; and RFC 3339 date-times (by pattern: jsonschema's
"date-time" format check needs an optional package). Like the official schemas it is
JSON Schema draft 4 and allows additional properties (OCDS extensions), and the
package refers to the release schema by its URL, resolved through a local registry.
"""

RELEASE_SCHEMA_URL = "https://standard.open-contracting.org/schema/1__1__5/release-schema.json"
PACKAGE_SCHEMA_URL = (
    "https://standard.open-contracting.org/schema/1__1__5/release-package-schema.json"
)

DATE_TIME = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$",
}
ID = {"type": ["string", "integer"], "minLength": 1}
RELEASE_TAGS = [
    "planning",
    "planningUpdate",
    "tender",
    "tenderAmendment",
    "tenderUpdate",
    "tenderCancellation",
    "award",
    "awardUpdate",
    "awardCancellation",
    "contract",
    "contractUpdate",
    "contractAmendment",
    "implementation",
    "implementationUpdate",
    "contractTermination",
    "compiled",
]
# The currencies the service records (vipcases.codes.GBP_RATES); all ISO 4217 codes.
CURRENCIES = ["GBP", "EUR", "USD", "CNY", "HKD", "TRY"]

RELEASE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "id": RELEASE_SCHEMA_URL,
    "type": "object",
    "required": ["ocid", "id", "date", "tag", "initiationType"],
    "properties": {
        "ocid": {"type": "string", "minLength": 1},
        "id": {"type": "string", "minLength": 1},
        "date": DATE_TIME,
        "tag": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": RELEASE_TAGS},
        },
        "initiationType": {"type": "string", "enum": ["tender"]},
        "language": {"type": ["string", "null"]},
        "parties": {
            "type": "array",
            "items": {"$ref": "#/definitions/Organization"},
            "uniqueItems": True,
        },
        "buyer": {"$ref": "#/definitions/OrganizationReference"},
        "awards": {
            "type": "array",
            "items": {"$ref": "#/definitions/Award"},
            "uniqueItems": True,
        },
        "contracts": {
            "type": "array",
            "items": {"$ref": "#/definitions/Contract"},
            "uniqueItems": True,
        },
    },
    "definitions": {
        "Identifier": {
            "type": "object",
            "properties": {
                "scheme": {"type": ["string", "null"]},
                "id": {"type": ["string", "integer", "null"]},
                "legalName": {"type": ["string", "null"]},
                "uri": {"type": ["string", "null"]},
            },
        },
        "Address": {
            "type": "object",
            "properties": {"countryName": {"type": ["string", "null"]}},
        },
        "Organization": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "name": {"type": ["string", "null"]},
                "identifier": {"$ref": "#/definitions/Identifier"},
                "address": {"$ref": "#/definitions/Address"},
                "roles": {"type": ["array", "null"], "items": {"type": "string"}},
            },
        },
        "OrganizationReference": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": ID,
                "name": {"type": ["string", "null"], "minLength": 1},
            },
        },
        "Value": {
            "type": "object",
            "properties": {
                "amount": {"type": ["number", "null"]},
                "currency": {"type": ["string", "null"], "enum": [*CURRENCIES, None]},
            },
        },
        "Classification": {
            "type": "object",
            "properties": {
                "scheme": {"type": ["string", "null"]},
                "id": {"type": ["string", "integer", "null"]},
                "description": {"type": ["string", "null"]},
            },
        },
        "Unit": {
            "type": "object",
            "properties": {
                "name": {"type": ["string", "null"]},
                "value": {"$ref": "#/definitions/Value"},
            },
        },
        "Item": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": ID,
                "description": {"type": ["string", "null"]},
                "classification": {"$ref": "#/definitions/Classification"},
                "quantity": {"type": ["number", "null"]},
                "unit": {"$ref": "#/definitions/Unit"},
            },
        },
        "Award": {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": ID,
                "title": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "status": {
                    "type": ["string", "null"],
                    "enum": ["pending", "active", "cancelled", "unsuccessful", None],
                },
                "date": DATE_TIME,
                "value": {"$ref": "#/definitions/Value"},
                "suppliers": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/OrganizationReference"},
                    "uniqueItems": True,
                },
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/definitions/Item"},
                    "uniqueItems": True,
                },
            },
        },
        "Contract": {
            "type": "object",
            "required": ["id", "awardID"],
            "properties": {
                "id": ID,
                "awardID": ID,
                "title": {"type": ["string", "null"]},
                "status": {
                    "type": ["string", "null"],
                    "enum": ["pending", "active", "cancelled", "terminated", None],
                },
                "value": {"$ref": "#/definitions/Value"},
                "dateSigned": DATE_TIME,
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"$ref": "#/definitions/Item"},
                    "uniqueItems": True,
                },
            },
        },
    },
}

PACKAGE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "id": PACKAGE_SCHEMA_URL,
    "type": "object",
    "required": ["uri", "publisher", "publishedDate", "releases", "version"],
    "properties": {
        "uri": {"type": "string", "minLength": 1},
        "version": {"type": "string", "pattern": r"^(\d+\.)(\d+)$"},
        "publishedDate": DATE_TIME,
        "publicationPolicy": {"type": ["string", "null"]},
        "publisher": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
        "releases": {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": RELEASE_SCHEMA_URL},
            "uniqueItems": True,
        },
    },
}
