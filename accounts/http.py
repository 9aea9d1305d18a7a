"""Typed requests: what the accounts middleware hangs on ``HttpRequest``, declared once.

``CurrentBusinessMiddleware`` sets ``request.business`` on every request; a dashboard view behind
``business_required`` receives a ``MemberRequest``, whose user is signed in and whose business
is set. The classes are never instantiated: they tell the type checker (and the reader) what
the request the view gets carries, as healthchecks' ``ApiRequest`` does.
"""

from typing import TypeGuard

from django.http import HttpRequest

from accounts.models import Business, User
from common.middleware import IdentifiedRequest


class BusinessRequest(IdentifiedRequest):
    """A request after ``CurrentBusinessMiddleware``: the signed-in user's business, or None."""

    business: Business | None


class MemberRequest(BusinessRequest):
    """A signed-in user working for a business (what ``business_required`` lets through)."""

    user: User
    business: Business


def is_member_request(request: HttpRequest) -> TypeGuard[MemberRequest]:
    """Signed in and working for a business (``request.business`` is set and not None)."""
    return request.user.is_authenticated and getattr(request, "business", None) is not None
