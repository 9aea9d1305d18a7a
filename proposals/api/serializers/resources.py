"""Clients, templates and the business, in and out."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Business
from proposals import rules
from proposals.api.serializers.base import StrictSerializer, name_field, text_field
from proposals.api.serializers.content import TemplateSectionSerializer, sections_input
from proposals.api.serializers.schedule import (
    PaymentPartSerializer,
    schedule_input,
)

# --- clients ---------------------------------------------------------------------------------


class ClientSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    company = serializers.CharField(read_only=True)
    wix_contact_id = serializers.CharField(
        read_only=True,
        help_text="The client's contact in your Wix contacts, once synced after a proposal is "
        "sent or accepted (empty before).",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ClientInputSerializer(StrictSerializer):
    name = name_field()
    email = serializers.EmailField(max_length=254)
    company = text_field(rules.MAX_NAME, default="")


class ClientPatchSerializer(ClientInputSerializer):
    name = name_field(required=False)
    email = serializers.EmailField(max_length=254, required=False)
    company = text_field(rules.MAX_NAME)


class ClientSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    company = serializers.CharField(read_only=True)


# --- templates -------------------------------------------------------------------------------


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    intro = serializers.CharField(read_only=True)
    terms = serializers.CharField(read_only=True)
    sections = TemplateSectionSerializer(many=True, read_only=True)
    payment_schedule = PaymentPartSerializer(many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class TemplateInputSerializer(StrictSerializer):
    name = name_field()
    title = text_field(rules.MAX_NAME, default="")
    intro = text_field(rules.MAX_TEXT, default="")
    terms = text_field(rules.MAX_TEXT, default="")
    sections = sections_input(default=list)
    payment_schedule = schedule_input(default=list)


class TemplatePatchSerializer(TemplateInputSerializer):
    name = name_field(required=False)
    title = text_field(rules.MAX_NAME)
    intro = text_field(rules.MAX_TEXT)
    terms = text_field(rules.MAX_TEXT)
    sections = sections_input(required=False)
    payment_schedule = schedule_input(required=False)


# --- business --------------------------------------------------------------------------------


class UsageSerializer(serializers.Serializer):
    sends_this_month = serializers.IntegerField(read_only=True)
    monthly_send_limit = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="null: unlimited (paid plan)."
    )


class BusinessSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    site_name = serializers.CharField(read_only=True)
    site_url = serializers.CharField(read_only=True)
    locale = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True)
    timezone = serializers.CharField(read_only=True)
    plan = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    installed_at = serializers.DateTimeField(read_only=True)
    usage = serializers.SerializerMethodField()

    @extend_schema_field(UsageSerializer)
    def get_usage(self, business: Business) -> dict:
        """This month's sends and the plan's limit, counted by the view (``context["usage"]``)."""
        return UsageSerializer(self.context["usage"]).data
