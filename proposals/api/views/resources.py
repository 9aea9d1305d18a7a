"""Clients, templates, deliveries and the business's own profile and usage."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.scoping import get_for_business_or_404
from common.ids import MAX_ID
from proposals import rules, selectors, services
from proposals.api import serializers as s
from proposals.api.idempotency import idempotent
from proposals.api.pagination import ApiCursorPagination, NameCursorPagination
from proposals.api.views.base import (
    IDEMPOTENCY_PARAMETER,
    ApiView,
    filter_by_dates,
    validated,
    validated_query,
)
from proposals.models import Delivery


class ClientFilterSerializer(serializers.Serializer):
    search = serializers.CharField(
        max_length=rules.MAX_SEARCH,
        required=False,
        allow_blank=True,
        help_text="Name, email or company.",
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)
    updated_before = serializers.DateTimeField(required=False)


class ClientListView(ApiView):
    pagination_class = NameCursorPagination
    serializer_class = s.ClientSerializer

    @extend_schema(
        tags=["clients"],
        summary="List clients",
        parameters=[ClientFilterSerializer],
        responses=s.ClientSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = validated_query(ClientFilterSerializer, request)
        queryset = selectors.client_list(business=self.business, search=filters.get("search"))
        return self.page_response(filter_by_dates(queryset, filters))

    @extend_schema(
        tags=["clients"],
        summary="Create a client",
        request=s.ClientInputSerializer,
        responses={201: s.ClientSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(s.ClientInputSerializer, request)
        client = services.client_create(
            business=self.business, acting_user=self.acting_user, **data
        )
        return self.created_response(client, url_name="api:client-detail")


class ClientDetailView(ApiView):
    serializer_class = s.ClientSerializer

    @extend_schema(tags=["clients"], summary="Read a client")
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            self.get_serializer(selectors.client_get(business=self.business, pk=pk)).data
        )

    @extend_schema(tags=["clients"], summary="Update a client", request=s.ClientPatchSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        client = selectors.client_get(business=self.business, pk=pk)
        data = validated(s.ClientPatchSerializer, request)
        client = services.client_update(
            client=client,
            acting_user=self.acting_user,
            name=data.get("name", client.name),
            email=data.get("email", client.email),
            company=data.get("company", client.company),
        )
        return Response(self.get_serializer(client).data)

    @extend_schema(
        tags=["clients"],
        summary="Delete a client without proposals",
        request=None,
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        client = selectors.client_get(business=self.business, pk=pk)
        services.client_delete(client=client, acting_user=self.acting_user)
        return Response(status=204)


class TemplateListView(ApiView):
    pagination_class = NameCursorPagination
    serializer_class = s.TemplateSerializer

    @extend_schema(
        tags=["templates"],
        summary="List templates",
        responses=s.TemplateSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return self.page_response(selectors.template_list(business=self.business))

    @extend_schema(
        tags=["templates"],
        summary="Create a template",
        request=s.TemplateInputSerializer,
        responses={201: s.TemplateSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = validated(s.TemplateInputSerializer, request)
        template = services.template_create(
            business=self.business, acting_user=self.acting_user, **data
        )
        return self.created_response(template, url_name="api:template-detail")


class TemplateDetailView(ApiView):
    serializer_class = s.TemplateSerializer

    @extend_schema(tags=["templates"], summary="Read a template")
    def get(self, request: Request, pk: int) -> Response:
        template = selectors.template_get(business=self.business, pk=pk)
        return Response(self.get_serializer(template).data)

    @extend_schema(
        tags=["templates"], summary="Update a template", request=s.TemplatePatchSerializer
    )
    def patch(self, request: Request, pk: int) -> Response:
        template = selectors.template_get(business=self.business, pk=pk)
        data = validated(s.TemplatePatchSerializer, request)
        template = services.template_update(
            template=template,
            acting_user=self.acting_user,
            name=data.get("name", template.name),
            title=data.get("title", template.title),
            intro=data.get("intro", template.intro),
            terms=data.get("terms", template.terms),
            sections=data["sections"] if "sections" in data else template.sections,
            payment_schedule=data.get("payment_schedule"),
        )
        return Response(self.get_serializer(template).data)

    @extend_schema(
        tags=["templates"],
        summary="Delete a template",
        request=None,
        responses={204: OpenApiResponse(description="Deleted.")},
    )
    def delete(self, request: Request, pk: int) -> Response:
        template = selectors.template_get(business=self.business, pk=pk)
        services.template_delete(template=template, acting_user=self.acting_user)
        return Response(status=204)


class DeliveryFilterSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=Delivery.State.choices, required=False)
    kind = serializers.ChoiceField(choices=Delivery.Kind.choices, required=False)
    proposal = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)
    updated_before = serializers.DateTimeField(required=False)


class DeliveryListView(ApiView):
    pagination_class = ApiCursorPagination
    serializer_class = s.DeliverySerializer

    @extend_schema(
        tags=["deliveries"],
        summary="Emails: state, attempts and last error",
        parameters=[DeliveryFilterSerializer],
        responses=s.DeliverySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        data = validated_query(DeliveryFilterSerializer, request)
        queryset = self.scoped(Delivery).prefetch_related("attempts")
        for name in ("state", "kind"):
            if name in data:
                queryset = queryset.filter(**{name: data[name]})
        if "proposal" in data:
            queryset = queryset.filter(proposal_id=data["proposal"])
        return self.page_response(filter_by_dates(queryset, data))


class DeliveryDetailView(ApiView):
    serializer_class = s.DeliverySerializer

    @extend_schema(tags=["deliveries"], summary="One email, with every attempt")
    def get(self, request: Request, pk: int) -> Response:
        delivery = get_for_business_or_404(
            Delivery.objects.prefetch_related("attempts"), self.business, pk=pk
        )
        return Response(self.get_serializer(delivery).data)


class BusinessView(ApiView):
    serializer_class = s.BusinessSerializer

    @extend_schema(tags=["business"], summary="The business behind the key, and its usage")
    def get(self, request: Request) -> Response:
        business = self.business
        sent, limit = selectors.send_usage(business=business)
        usage = {"sends_this_month": sent, "monthly_send_limit": limit}
        context = {**self.get_serializer_context(), "usage": usage}
        return Response(self.get_serializer(business, context=context).data)
