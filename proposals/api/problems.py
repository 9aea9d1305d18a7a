"""The API's exception handler: every refusal becomes RFC 9457 problem details.

Service errors keep their meaning on the wire: a refused transition or a locked proposal is a
conflict (409), the free plan's limit is 402, a stale revision 412, a business rule broken by
valid JSON 422; malformed input is 400.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from common.problems import PROBLEM_CONTENT_TYPE, problem_body
from proposals.services import (
    ConcurrentEditError,
    PlanLimitReached,
    ProposalError,
    ProposalLocked,
    TransitionError,
)

NON_FIELD = "non_field_errors"


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_detail = "The resource was changed since you read it (If-Match does not match)."
    default_code = "precondition_failed"


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class UnprocessableContent(exceptions.APIException):
    status_code = 422
    default_detail = "The request is well-formed but cannot be processed."
    default_code = "unprocessable"


class PaymentRequired(exceptions.APIException):
    status_code = 402
    default_detail = "The business's plan does not allow this."
    default_code = "plan_limit_reached"


_SERVICE_STATUS: tuple[tuple[type[ProposalError], int], ...] = (
    (ConcurrentEditError, 412),
    (PlanLimitReached, 402),
    (ProposalLocked, 409),
    (TransitionError, 409),
    (ProposalError, 409),
)


def _flatten(detail: object, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure → ``{"sections[0].items[1].quantity": ["…"]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a list's errors, keyed by index
                path = f"{prefix}[{key}]"
            else:
                name = NON_FIELD if key in (NON_FIELD, "__all__") else str(key)
                path = name if not prefix else (prefix if name == NON_FIELD else f"{prefix}.{name}")
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.setdefault(prefix or NON_FIELD, []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item in ({}, [], None):
                    continue
                for k, v in _flatten(item, f"{prefix}[{index}]").items():
                    out.setdefault(k, []).extend(v)
    elif detail is not None:
        out.setdefault(prefix or NON_FIELD, []).append(str(detail))
    return out


def _problem(
    status: int,
    *,
    code: str | None = None,
    detail: str | None = None,
    errors: dict | None = None,
    headers: dict | None = None,
    title: str | None = None,
) -> Response:
    body = problem_body(status=status, code=code, title=title, detail=detail, errors=errors)
    return Response(body, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _django_validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (NON_FIELD if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    return {NON_FIELD: list(exc.messages)}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``; returning None lets the middleware answer a logged 500."""
    if isinstance(exc, ProposalError):
        status = next(code for cls, code in _SERVICE_STATUS if isinstance(exc, cls))
        return _problem(status, code=exc.code, detail=exc.message)
    if isinstance(exc, DjangoValidationError):
        errors = _django_validation_errors(exc)
        first = next(iter(errors.values()), ["Invalid input."])[0]
        return _problem(422, code="unprocessable", detail=first, errors=errors)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("No resource exists at this URL.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return _problem(413, code="payload_too_large", detail="The request body is too large.")
    elif isinstance(exc, SuspiciousOperation):
        return _problem(400, code="bad_request", detail="The request was refused as malformed.")
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        authenticator = context["request"].successful_authenticator if context else None
        view = context.get("view") if context else None
        header = view.get_authenticate_header(context["request"]) if view else None
        if header and authenticator is None:
            headers["WWW-Authenticate"] = header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))

    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        first_field, first_messages = next(iter(errors.items()), (NON_FIELD, ["Invalid input."]))
        detail = (
            first_messages[0] if first_field == NON_FIELD else f"{first_field}: {first_messages[0]}"
        )
        return _problem(400, code="invalid", detail=detail, errors=errors, headers=headers)

    listed: dict[str, list[str]] | None = None
    if isinstance(exc.detail, (list, dict)):
        listed = _flatten(exc.detail)
        detail_text = next(iter(listed.values()), [""])[0]
    else:
        detail_text = str(exc.detail)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return _problem(exc.status_code, code=code, detail=detail_text, errors=listed, headers=headers)
