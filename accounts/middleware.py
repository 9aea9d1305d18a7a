from collections.abc import Callable

import structlog
from django.http import HttpRequest, HttpResponse

from accounts.http import BusinessRequest
from accounts.selectors import business_for_user

SESSION_BUSINESS_KEY = "business_id"


class CurrentBusinessMiddleware:
    """Attach ``request.business`` (the signed-in user's business) and bind it to the logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: BusinessRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            business = business_for_user(
                user=user, business_id=request.session.get(SESSION_BUSINESS_KEY)
            )
            request.business = business
            if business is not None:
                structlog.contextvars.bind_contextvars(business_id=business.pk)
        else:
            request.business = None
        return self.get_response(request)
