"""OpenAPI: the bearer key scheme, problem-details error responses, and strict request bodies."""

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)

from common.problems import PROBLEM_CONTENT_TYPE

DESCRIPTION = """
Drive proposals (quotes) for your business: clients, templates, proposals and their lifecycle,
the emails sent about them and everything that happened to them.

**Authentication.** Create a key in the dashboard (`/app/api-keys/`) and send it as
`Authorization: Bearer prk_…`. The key identifies your business. Signed-in dashboard
sessions work too (with the CSRF token on writes).

**Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details
(`application/problem+json`) with `type`, `title`, `status`, `detail`, `code`, `errors`
(field path → messages) and `request_id`. Malformed input is 400 (unknown fields included),
a valid request that a business rule refuses 422 (an id that names none of your clients or
templates, a name of spaces only), a state conflict 409, the free plan's
monthly limit 402, a stale `If-Match` 412.

**Retries.** Send an `Idempotency-Key` (a UUID) with every POST: the first response is stored
for 24 hours and replayed for the same request; reusing the key for another request is a 422,
and retrying while the first is still running a 409.

**Concurrent edits.** Proposal reads return an `ETag`; send it as `If-Match` when updating or
deleting to get 412 instead of overwriting someone else's change.

**Lists** use cursor pagination: follow `next` / `previous`; `limit` sets the page size
(1–100). A `limit` outside that range, or a filter sent empty (`?status=`), is a 400.

**Rate limits** (defaults; operators may change them): 300 requests per minute per key (or
signed-in user) and 600 per minute per client IP. Over the limit: 429 with `Retry-After`.
""".strip()


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "proposals.api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "prk_…",
            "description": "A business's API key, created in the dashboard.",
        }


def _number(value) -> int | float:
    return int(value) if value == int(value) else float(value)


class AmountFieldSchema(OpenApiSerializerFieldExtension):
    # proposals.api.serializers.base.AmountField: the string it accepts, or a JSON number in range.
    target_class = "proposals.api.serializers.base.AmountField"

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        return {
            "anyOf": [
                {"type": "string", "format": "decimal", "pattern": field.pattern},
                {
                    "type": "number",
                    "minimum": 0,
                    "maximum": _number(field.max_value),
                    "description": f"Rounded to {field.decimal_places} decimal places.",
                },
            ]
        }


class ProposalCreateSchema(OpenApiSerializerExtension):
    # Its validate(): a title, or a template to take it from.
    target_class = "proposals.api.serializers.proposals.ProposalCreateSerializer"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["anyOf"] = [{"required": [name]} for name in self.target.REQUIRES_ONE_OF]
        return schema


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "description": "URN naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Machine-readable problem code."},
        "errors": {
            "type": "object",
            "description": "Field errors: field path → messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "request_id": {"type": "string", "description": "Quote it to support."},
    },
    "required": ["type", "title", "status", "detail", "code", "errors", "request_id"],
}

_DESCRIPTIONS = {
    "400": "Malformed request: bad JSON, wrong types, unknown fields, bad query parameters.",
    "401": "Missing, invalid or revoked API key.",
    "402": "The free plan's monthly sending limit is reached.",
    "403": "Not allowed (no business, app uninstalled, CSRF token missing for sessions).",
    "404": "No such resource for this business (or an invalid cursor).",
    "406": "The Accept header asks for a format the API does not produce.",
    "409": "Conflict with the current state, or the Idempotency-Key is still in use.",
    "412": "If-Match does not match the current ETag: the resource changed.",
    "413": "The request body is too large.",
    "415": "Unsupported Content-Type: send application/json.",
    "422": "A business rule refused the request, or the Idempotency-Key was used for another "
    "request.",
    "429": "Too many requests; wait for Retry-After seconds.",
    "500": "Unexpected error (logged; quote the request_id).",
}


# DRF's CharField refuses a NUL character (PostgreSQL text cannot hold one).
NO_NUL_PATTERN = r"^[^\x00]*$"


def _no_nul(schema: dict) -> None:
    """Say so on free text: a string with no pattern, format or enum of its own."""
    if schema.get("type") == "string" and not {"pattern", "format", "enum"} & set(schema):
        schema["pattern"] = NO_NUL_PATTERN


def _statuses(method: str, path: str, operation: dict) -> list[str]:
    codes = ["401", "403", "404", "406", "429", "500"]
    has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
    if method == "get" and has_query:
        codes.append("400")
    if method in ("post", "patch", "put"):
        codes += ["400", "409", "413", "415", "422"]
    if method in ("patch", "delete"):
        codes += ["409", "412"]
    if path.endswith("/send/"):
        codes.append("402")
    return sorted(set(codes))


def postprocess(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: error responses on every operation, strict request bodies."""
    result.setdefault("info", {})["description"] = DESCRIPTION
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
            for prop in schema.get("properties", {}).values():
                _no_nul(prop)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _no_nul(parameter.get("schema", {}))
            for code in _statuses(method, path, operation):
                response = {
                    "description": _DESCRIPTIONS[code],
                    "content": {PROBLEM_CONTENT_TYPE: {"schema": ref}},
                }
                if code == "429":
                    response["headers"] = {
                        "Retry-After": {
                            "schema": {"type": "integer"},
                            "description": "Seconds to wait before retrying.",
                        }
                    }
                operation["responses"].setdefault(code, response)
    return result


__all__ = [
    "DESCRIPTION",
    "AmountFieldSchema",
    "ApiKeyScheme",
    "ProposalCreateSchema",
    "SessionScheme",
    "postprocess",
]


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "proposals.api.authentication.BusinessSessionAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "The dashboard's session; unsafe methods also need X-CSRFToken.",
        }
