"""OpenAPI: the bearer key scheme, problem-details error responses, and strict request bodies."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

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
a valid request that a business rule refuses 422, a state conflict 409, the free plan's
monthly limit 402, a stale `If-Match` 412.

**Retries.** Send an `Idempotency-Key` (a UUID) with every POST: the first response is stored
for 24 hours and replayed for the same request; reusing the key for another request is a 422,
and retrying while the first is still running a 409.

**Concurrent edits.** Proposal reads return an `ETag`; send it as `If-Match` when updating or
deleting to get 412 instead of overwriting someone else's change.

**Lists** use cursor pagination: follow `next` / `previous`; `limit` sets the page size
(max 100).

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
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
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


__all__ = ["DESCRIPTION", "ApiKeyScheme", "SessionScheme", "postprocess"]


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
