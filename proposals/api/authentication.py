"""Who is calling the API, and for which business.

A bearer API key identifies its business; a signed-in dashboard session acts for the user's
current business (``request.business``). Views read the business through ``request_business``
and never from the request body.
"""

import structlog
from rest_framework import authentication, exceptions, permissions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from accounts.models import ApiKey, Business
from accounts.services import api_key_authenticate


class ApiKeyPrincipal:
    """``request.user`` for a request authenticated by an API key (no person behind it)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.business = api_key.business

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}…"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer prk_…``; an absent header lets the next scheme try."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        parts = header.split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer <key>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        # A read may trust a key checked within the last second; a write reads it again.
        api_key = api_key_authenticate(raw_key=raw, fresh=request.method not in SAFE_METHODS)
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        # django-structlog's request_finished line (and every line after this) carries them.
        structlog.contextvars.bind_contextvars(
            api_key_id=api_key.pk, business_id=api_key.business_id
        )
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class BusinessSessionAuthentication(authentication.SessionAuthentication):
    """The dashboard's session (with CSRF on unsafe methods), acting for request.business."""


def request_business(request: Request) -> Business | None:
    if isinstance(request.auth, ApiKey):
        return request.auth.business
    return getattr(request._request, "business", None)


def active_business(request: Request) -> Business:
    """The business of a request that ``HasActiveBusiness`` let through; 403 for any other."""
    business = request_business(request)
    if business is None:
        raise exceptions.PermissionDenied(HasActiveBusiness.message)
    return business


def api_key_of(request: Request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


class HasActiveBusiness(permissions.BasePermission):
    """Authenticated, working for a business, and the app is installed on its site."""

    message = "This account does not work for a business with the app installed."

    def has_permission(self, request: Request, view: object) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        business = request_business(request)
        return business is not None and business.is_active
