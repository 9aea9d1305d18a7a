"""RFC 9457 problem details: the one error format of every machine-facing door (``/api/``).

``problem_body`` builds the document; ``ApiProblemMiddleware`` makes sure that nothing under
an API prefix ever answers with an HTML error page (unknown URL, 405 from a plain view,
unhandled exception, a middleware's refusal); ``ApiRequestLogMiddleware`` logs one
``api_request`` line per API request.
"""

import time
from collections.abc import Callable
from http import HTTPStatus

import structlog
from django.http import HttpRequest, HttpResponse, JsonResponse

from common.request_id import current_request_id

log = structlog.get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
# A URN names the kind of problem without promising a page to dereference (RFC 9457 §3.1.1).
PROBLEM_TYPE_PREFIX = "urn:proposals:problem:"
API_PREFIXES = ("/api/",)
# Headers of the original error response that still mean something on the problem response.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "X-Request-ID")


def status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def default_code(status: int) -> str:
    return status_title(status).lower().replace(" ", "_").replace("-", "_") or "error"


def problem_body(
    *,
    status: int,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    errors: dict | None = None,
    request_id: str | None = None,
) -> dict:
    """The problem document: type, title, status, detail, code, errors and request_id."""
    code = code or default_code(status)
    return {
        "type": f"{PROBLEM_TYPE_PREFIX}{code}",
        "title": title or status_title(status),
        "status": status,
        "detail": detail or title or status_title(status),
        "code": code,
        "errors": errors or {},
        "request_id": request_id or current_request_id() or "",
    }


def problem_response(*, request: HttpRequest | None = None, **kwargs: object) -> JsonResponse:
    request_id = getattr(request, "request_id", None) if request is not None else None
    body = problem_body(request_id=request_id, **kwargs)  # type: ignore[arg-type]
    return JsonResponse(
        body,
        status=body["status"],
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _is_problem(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)


class ApiRequestLogMiddleware:
    """One ``api_request`` line per API request: status and duration, with the request's
    bound context (request id, business, API key id — never the key).

    Innermost, so that django-structlog's context is still bound when it logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_path(request.path_info):
            return self.get_response(request)
        started = time.monotonic()
        response = self.get_response(request)
        log.info(
            "api_request",
            method=request.method,
            path=request.path_info,
            status=response.status_code,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return response


class ApiProblemMiddleware:
    """Under ``/api/``: turn any non-problem 4xx/5xx into problem details.

    Sits just inside RequestIdMiddleware, so that it also converts the HTML error pages that
    Django renders for exceptions raised by the middlewares after it (a bad Host header, a
    crash) and the resolver's 404, and so that the converted response gets its X-Request-ID.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path_info)
            and not _is_problem(response)
        ):
            response = self._convert(request, response)
        return response

    def _convert(self, request: HttpRequest, original: HttpResponse) -> HttpResponse:
        status = original.status_code
        detail = None
        if status == 404:
            detail = "No resource exists at this URL."
        elif status == 405:
            detail = f"{request.method} is not allowed here."
        elif status >= 500:
            detail = "An unexpected error occurred; it has been logged. Quote the request_id."
        response = problem_response(request=request, status=status, detail=detail)
        for header in _KEPT_HEADERS:
            if header in original:
                response[header] = original[header]
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """An exception escaped an API view: answer 500 problem details instead of HTML."""
        if not is_api_path(request.path_info):
            return None
        from django.core.exceptions import PermissionDenied
        from django.http import Http404

        if isinstance(exception, Http404):
            return problem_response(
                request=request, status=404, detail="No resource exists at this URL."
            )
        if isinstance(exception, PermissionDenied):
            return problem_response(request=request, status=403)
        log.error(
            "api_unhandled_exception",
            method=request.method,
            path=request.path_info,
            exception_type=type(exception).__name__,
            exc_info=exception,
        )
        return problem_response(
            request=request,
            status=500,
            detail="An unexpected error occurred; it has been logged. Quote the request_id.",
        )
