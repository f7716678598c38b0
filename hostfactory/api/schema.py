"""OpenAPI: document the error answers every operation can give.

The views declare their success bodies; the errors come from one place (the exception
handler, hostfactory/api/exceptions.py), so they are added here, to every operation under
/api/v1/ that did not declare them itself. Without them a client generated from the schema
would not know that a stale ``version`` is a 409 or that a bad filter is a 400 (found by
schemathesis' status-code conformance check, tests/security/test_fuzz_all_checks.py).
"""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

ERROR = {
    "type": "object",
    "description": "`detail` says what is wrong and `code` is stable; a field error is "
    "`{<field>: [<rule>], code: invalid}`",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "allowed": {
            "type": "array",
            "items": {"type": "string"},
            "description": "moves allowed (409 invalid_transition)",
        },
    },
    "required": ["code"],
    "additionalProperties": True,  # the fields in error, each with its rules
}
DESCRIPTIONS = {
    "400": "Bad input: a field breaks a rule, an unknown or bad filter, a forged cursor, malformed JSON",
    "401": "No credentials, or bad ones",
    "403": "Authenticated, but without the permission (or the CSRF token) this needs",
    "404": "Nothing stored under that id",
    "409": "A stale version, a status move the transition table refuses, or still in use",
    "413": "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE",
    "415": "The body is not application/json",
    "503": "Storage unavailable; try again",
}
BODY_METHODS = {"post", "put", "patch"}
UNGUARDED = {"/api/v1/health/"}  # no authentication, its own 503 body


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses the exception handler can give for this operation."""
    statuses = ["401", "403"]
    if method in BODY_METHODS:
        statuses += ["400", "413", "415"]
    elif any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.append("400")
    if "{" in path:
        statuses.append("404")
    if method != "get" and not path.startswith("/api/v1/hostfactory/"):
        statuses.append("409")
    if path != "/api/v1/":
        statuses.append("503")
    return statuses


def document_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", ERROR)
    for path, operations in result.get("paths", {}).items():
        if path in UNGUARDED or not re.match(r"^/api/v1/", path):
            continue
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            # The Host Factory endpoints answer {"message": ...}: reuse the body they declared.
            declared = responses.get("400", {}).get("content")
            content = declared or {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
            for status in error_statuses(path, method, operation):
                responses.setdefault(status, {"description": DESCRIPTIONS[status], "content": content})
    return result


class OneOrManyFieldExtension(OpenApiSerializerFieldExtension):
    """``OneOrManyField`` (the Host Factory inputs' ``requests`` and ``machines``) takes a list
    or one object, so its schema says both; otherwise a client generated from the schema, or a
    validator, would refuse the single-object form Host Factory's callers send."""

    target_class = "hostfactory.hostfactory_api.serializers.OneOrManyField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        item = auto_schema.resolve_serializer(self.target.child, direction).ref
        listed: dict[str, Any] = {"type": "array", "items": item}
        if self.target.max_length is not None:
            listed["maxItems"] = self.target.max_length
        return {"oneOf": [listed, item], "description": "A list, or one object standing for a list of one."}
