"""How a business's pages write what they show: amounts as the business writes them
(``common.money``) and times in its time zone, for the signed-in business's requests."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from common.money import use_locale


@lru_cache(maxsize=1024)
def business_zone(name: str | None) -> ZoneInfo:
    """A stored time zone name as a zone; UTC for none or one this machine does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@contextmanager
def as_the_business_writes(business: object) -> Iterator[None]:
    """Inside the block, amounts in the business's locale and times in its time zone (a page,
    a PDF of the business's); ``business`` is anything with ``locale`` and ``timezone``."""
    zone = business_zone(getattr(business, "timezone", None))
    with use_locale(getattr(business, "locale", None)), timezone.override(zone):
        yield


class BusinessLocaleMiddleware:
    """``as_the_business_writes(request.business)`` while the view runs and renders.

    Placed after the middleware that sets ``request.business``. Requests without a business
    (a client's page, the admin) keep the defaults (en-US, UTC); their views name the business
    they show.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        business = getattr(request, "business", None)
        if business is None:
            return self.get_response(request)
        with as_the_business_writes(business):
            return self.get_response(request)
