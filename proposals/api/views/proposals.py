"""Proposals: list, create, read, update, delete drafts, send, withdraw, duplicate, history."""

from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from common.ids import MAX_ID
from proposals import rules, selectors, services
from proposals.api import representations
from proposals.api import serializers as s
from proposals.api.idempotency import idempotent
from proposals.api.pagination import ApiCursorPagination, VersionCursorPagination
from proposals.api.views.base import (
    ETAG_HEADER,
    IDEMPOTENCY_PARAMETER,
    IF_MATCH_PARAMETER,
    ApiView,
    etag,
    expected_revision,
    filter_by_dates,
    validated,
    validated_query,
)
from proposals.models import Proposal

TAG = ["proposals"]


class ProposalFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Proposal.Status.choices, required=False)
    client = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    search = serializers.CharField(
        max_length=rules.MAX_SEARCH,
        required=False,
        allow_blank=True,
        help_text="Title, number (P-0042), client name or email.",
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)
    updated_before = serializers.DateTimeField(required=False)


class ProposalViewMixin(ApiView):
    def get_proposal(self, pk: int) -> Proposal:
        return selectors.proposal_get(business=self.business, pk=pk)

    def proposal_response(self, proposal: Proposal | int, status: int = 200) -> Response:
        # Read (again, after a write: the service may have changed any field) as the API
        # prints it: one row and its content, no model object (proposals.api.representations).
        pk = proposal if isinstance(proposal, int) else proposal.pk
        row = selectors.api_proposal_row(business=self.business, pk=pk)
        sections, totals = selectors.proposal_content_rows(
            proposal_id=row["id"], currency=row["currency"]
        )
        headers = {"ETag": etag(row["id"], row["revision"])}
        if status == 201:
            headers["Location"] = reverse("api:proposal-detail", kwargs={"pk": row["id"]})
        acceptance = (
            selectors.acceptance_for(business_id=self.business.pk, proposal_id=row["id"])
            if row["status"] == Proposal.Status.ACCEPTED
            else None
        )
        data = representations.proposal_detail(
            row, sections=sections, totals=totals, acceptance=acceptance
        )
        return Response(data, status=status, headers=headers)


class ProposalListView(ProposalViewMixin, ApiView):
    pagination_class = ApiCursorPagination
    serializer_class = s.ProposalSummarySerializer

    def get_queryset(self):
        data = validated_query(ProposalFilterSerializer, self.request)
        queryset = selectors.api_proposal_list(
            business=self.business,
            status=data.get("status"),
            client_id=data.get("client"),
            search=data.get("search"),
        )
        return filter_by_dates(queryset, data)

    @extend_schema(
        tags=TAG,
        summary="List proposals",
        parameters=[ProposalFilterSerializer],
        responses=s.ProposalSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # None only for a view without pagination_class
        tz = timezone.get_current_timezone()
        # ProposalSummarySerializer's shape, built directly (proposals.api.representations).
        return self.get_paginated_response(
            [representations.proposal_summary(proposal, tz) for proposal in page]
        )

    @extend_schema(
        tags=TAG,
        summary="Create a draft proposal",
        request=s.ProposalCreateSerializer,
        responses={201: s.ProposalSerializer},
        parameters=[IDEMPOTENCY_PARAMETER, ETAG_HEADER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(s.ProposalCreateSerializer, request)
        client = self.client_for(data["client"])
        template = self.template_for(data["template"]) if "template" in data else None
        proposal = services.proposal_create(
            business=self.business,
            acting_user=self.acting_user,
            client=client,
            title=data.get("title", ""),
            currency=data.get("currency"),
            valid_until=data.get("valid_until"),
            intro=data.get("intro", ""),
            terms=data.get("terms", ""),
            sections=data.get("sections"),
            payment_schedule=data.get("payment_schedule"),
            template=template,
        )
        return self.proposal_response(proposal, status=201)


class ProposalDetailView(ProposalViewMixin, ApiView):
    serializer_class = s.ProposalSerializer

    @extend_schema(tags=TAG, summary="Read a proposal", parameters=[ETAG_HEADER])
    def get(self, request: Request, pk: int) -> Response:
        return self.proposal_response(pk)

    @extend_schema(
        tags=TAG,
        summary="Update a proposal",
        description=(
            "Only the fields sent change; `sections` replaces every section when sent. A sent "
            "proposal records unsent changes (send again to publish them); an accepted, "
            "declined, expired or withdrawn one is refused with 409."
        ),
        request=s.ProposalUpdateSerializer,
        parameters=[IF_MATCH_PARAMETER, ETAG_HEADER],
    )
    def patch(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        # Malformed input is a 400 whatever If-Match says (RFC 9110 13.2.1: preconditions are
        # evaluated once the request would otherwise succeed).
        data = validated(s.ProposalUpdateSerializer, request)
        revision = expected_revision(request, proposal)
        client = self.client_for(data["client"]) if "client" in data else proposal.client
        sections = (
            data["sections"] if "sections" in data else selectors.working_copy_sections(proposal)
        )
        updated = services.proposal_update(
            proposal=proposal,
            acting_user=self.acting_user,
            title=data.get("title", proposal.title),
            client=client,
            currency=data.get("currency", proposal.currency),
            valid_until=data["valid_until"] if "valid_until" in data else proposal.valid_until,
            intro=data.get("intro", proposal.intro),
            terms=data.get("terms", proposal.terms),
            sections=sections,
            payment_schedule=data.get("payment_schedule"),
            expected_revision=revision,
            drafts_only=True,
        )
        return self.proposal_response(updated)

    @extend_schema(
        tags=TAG,
        summary="Delete a draft",
        parameters=[IF_MATCH_PARAMETER],
        request=None,
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        revision = expected_revision(request, proposal)
        services.proposal_delete(
            proposal=proposal, acting_user=self.acting_user, expected_revision=revision
        )
        return Response(status=204)


class ProposalSendView(ProposalViewMixin, ApiView):
    serializer_class = s.ProposalSerializer

    @extend_schema(
        tags=TAG,
        summary="Send (or send again) to the client",
        description=(
            "Freezes the working copy as a new version and emails the client. The free plan's "
            "monthly limit answers 402."
        ),
        request=s.ProposalSendSerializer,
        parameters=[IDEMPOTENCY_PARAMETER, ETAG_HEADER],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        data = validated(s.ProposalSendSerializer, request)
        services.proposal_send(
            proposal=proposal, acting_user=self.acting_user, message=data.get("message", "")
        )
        return self.proposal_response(proposal)


class ProposalWithdrawView(ProposalViewMixin, ApiView):
    serializer_class = s.ProposalSerializer

    @extend_schema(
        tags=TAG,
        summary="Withdraw a sent proposal",
        request=s.EmptySerializer,
        parameters=[IDEMPOTENCY_PARAMETER, ETAG_HEADER],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        validated(s.EmptySerializer, request)
        services.proposal_withdraw(proposal=proposal, acting_user=self.acting_user)
        return self.proposal_response(proposal)


class ProposalDuplicateView(ProposalViewMixin, ApiView):
    serializer_class = s.ProposalSerializer

    @extend_schema(
        tags=TAG,
        summary="Duplicate into a new draft",
        request=s.ProposalDuplicateSerializer,
        responses={201: s.ProposalSerializer},
        parameters=[IDEMPOTENCY_PARAMETER, ETAG_HEADER],
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        data = validated(s.ProposalDuplicateSerializer, request)
        copy = services.proposal_duplicate(
            proposal=proposal, acting_user=self.acting_user, title=data.get("title")
        )
        return self.proposal_response(copy, status=201)


class ProposalVersionListView(ProposalViewMixin, ApiView):
    pagination_class = VersionCursorPagination
    serializer_class = s.VersionSerializer

    @extend_schema(
        tags=TAG,
        summary="Versions sent to the client",
        responses=s.VersionSerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        return self.page_response(selectors.proposal_versions(proposal=proposal))


class ProposalVersionDetailView(ProposalViewMixin, ApiView):
    serializer_class = s.VersionDetailSerializer

    @extend_schema(tags=TAG, summary="One sent version, with its frozen content")
    def get(self, request: Request, pk: int, number: int) -> Response:
        proposal = self.get_proposal(pk)
        version = selectors.proposal_versions(proposal=proposal).filter(number=number).first()
        if version is None:
            raise Http404("No such version.")
        return Response(self.get_serializer(version).data)


class ProposalActivityListView(ProposalViewMixin, ApiView):
    pagination_class = ApiCursorPagination
    serializer_class = s.ActivitySerializer

    @extend_schema(
        tags=TAG,
        summary="Timeline: what happened, and who or what caused it",
        responses=s.ActivitySerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        return self.page_response(selectors.proposal_timeline(proposal=proposal))


class ProposalDeliveryListView(ProposalViewMixin, ApiView):
    pagination_class = ApiCursorPagination
    serializer_class = s.DeliverySerializer

    @extend_schema(
        tags=TAG,
        summary="Emails about this proposal, with their attempts",
        responses=s.DeliverySerializer(many=True),
    )
    def get(self, request: Request, pk: int) -> Response:
        proposal = self.get_proposal(pk)
        queryset = selectors.proposal_deliveries(proposal=proposal).prefetch_related("attempts")
        return self.page_response(queryset)
