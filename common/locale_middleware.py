"""The request's money locale: amounts are written as the signed-in business writes them."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from common.money import use_locale


class BusinessLocaleMiddleware:
    """Bind ``request.business.locale`` for ``common.money`` while the view runs and renders.

    Placed after the middleware that sets ``request.business``. Requests without a business
    (a client's page, the admin) keep the default; their views name the locale they need.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        business = getattr(request, "business", None)
        with use_locale(getattr(business, "locale", None)):
            return self.get_response(request)
