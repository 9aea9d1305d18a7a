from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from common.request_id import sanitize_request_id


class IdentifiedRequest(HttpRequest):
    """A request after ``RequestIdMiddleware``: the sanitised id it echoes in X-Request-ID."""

    request_id: str


class RequestIdMiddleware:
    """Decide the request id before anything logs, and echo it on the response.

    django-structlog's RequestMiddleware binds ``X-Request-ID`` as it finds it; this middleware
    runs first and replaces a missing or hostile value (too long, control characters) with a
    fresh one, so whatever is bound is safe to log and to send on.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: IdentifiedRequest) -> HttpResponse:
        request_id = sanitize_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        request.META["HTTP_X_REQUEST_ID"] = request_id
        # request.headers is cached on first use; make sure it reflects the sanitised value.
        request.__dict__.pop("headers", None)
        request.request_id = request_id
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class RejectNulBytesMiddleware:
    """Refuse URLs whose path or query carries a NUL byte: 400 instead of a database error.

    PostgreSQL cannot store or compare strings with NUL, so a lookup with one (a client
    link, a search box) would otherwise fail deep inside the ORM. Form and API fields refuse
    NUL themselves (Django's and DRF's ProhibitNullCharactersValidator).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            return HttpResponseBadRequest(
                "Bad request: the address contains a NUL character.", content_type="text/plain"
            )
        return self.get_response(request)
