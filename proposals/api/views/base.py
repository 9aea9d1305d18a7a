"""What every API view shares: authentication, the business, limits, lookups, ETags."""

import re

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, generics, permissions
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Business, User
from accounts.scoping import scoped
from proposals.api.authentication import (
    ApiKeyAuthentication,
    BusinessSessionAuthentication,
    HasActiveBusiness,
    active_business,
)
from proposals.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from proposals.api.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from proposals.api.idempotency import MAX_KEY_LENGTH
from proposals.api.problems import PreconditionFailed, UnprocessableContent
from proposals.api.throttling import api_limits_wait
from proposals.models import Client, Proposal, ProposalTemplate

_ETAG = re.compile(r'^"(\d{1,19})-(\d{1,19})"$')

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
    OpenApiParameter.HEADER,
    description=(
        "Makes a retry safe: the first response to this key is stored for 24 h and replayed "
        "(with `Idempotent-Replayed: true`) for the same request; the same key with other "
        "parameters answers 422, and while the first request is still running 409."
    ),
)
IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="The ETag you read; a stale one answers 412 and changes nothing.",
)
ETAG_HEADER = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="Current revision of the proposal; send it back in If-Match.",
)


class ApiView(generics.GenericAPIView):
    # Base of every endpoint: key or session, an installed business, per-key and per-IP limits.
    # (A comment, not a docstring: drf-spectacular would print it on every operation.)

    authentication_classes = [ApiKeyAuthentication, BusinessSessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, HasActiveBusiness]
    throttle_classes: list = []  # both limits are counted in perform_authentication

    def perform_authentication(self, request: Request) -> None:
        # Per IP and per key in ONE cache round trip, so it follows authentication; a failed
        # authentication is reported only after the per-IP limit counted it, so guessing keys
        # is limited too (a guesser over the limit learns nothing from a 429).
        failure = None
        try:
            request.user  # noqa: B018 - DRF authenticates lazily
        except exceptions.APIException as exc:
            failure = exc
        wait = api_limits_wait(request)
        if wait is not None:
            self.throttled(request, wait)
        if failure is not None:
            raise failure

    @property
    def business(self) -> Business:
        return active_business(self.request)

    @property
    def acting_user(self) -> User | None:
        user = self.request.user
        return user if isinstance(user, User) else None

    def scoped(self, model_or_queryset) -> QuerySet:
        return scoped(model_or_queryset, self.business)

    def page_response(self, queryset) -> Response:
        """One page of ``queryset`` (the view's cursor pagination), as its serializer prints it."""
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def created_response(self, obj, *, url_name: str) -> Response:
        """201 with the new row as the view's serializer prints it, and where to read it."""
        location = reverse(url_name, kwargs={"pk": obj.pk})
        return Response(self.get_serializer(obj).data, status=201, headers={"Location": location})

    def client_for(self, client_id: int) -> Client:
        """One of this business's clients named in a request body.

        A well-formed id that names none is a 422 (a rule refused it), not the 400 of
        malformed input: no schema can tell which ids a business has.
        """
        client = self.scoped(Client).filter(pk=client_id).first()
        if client is None:
            raise UnprocessableContent({"client": ["Choose one of your clients."]})
        return client

    def template_for(self, template_id: int) -> ProposalTemplate:
        template = self.scoped(ProposalTemplate).filter(pk=template_id).first()
        if template is None:
            raise UnprocessableContent({"template": ["Choose one of your templates."]})
        return template


def etag(pk: int, revision: int) -> str:
    """A proposal's ETag: its id and revision (If-Match names them back)."""
    return f'"{pk}-{revision}"'


def expected_revision(request: Request, proposal: Proposal) -> int | None:
    """The revision If-Match names, None without If-Match (or ``*``); 412 when it is stale."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        match = _ETAG.match(tag.strip())
        if match and int(match[1]) == proposal.pk:
            revision = int(match[2])
            if revision != proposal.revision:
                break
            return revision
    raise PreconditionFailed()


def filter_by_dates(queryset, filters: dict):
    lookups = {
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
        "updated_after": "updated_at__gte",
        "updated_before": "updated_at__lt",
    }
    conditions = {lookups[name]: value for name, value in filters.items() if name in lookups}
    return queryset.filter(**conditions) if conditions else queryset


def validated(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_query(serializer_class, request: Request) -> dict:
    """A list's filters from the query string; an empty one (``?status=``) is a 400.

    A QueryDict would make DRF read an empty optional value as absent, so that
    ``?created_after=`` silently listed everything: the serializer gets a plain dict instead
    (the last value of a repeated parameter, as Django reads it).
    """
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
