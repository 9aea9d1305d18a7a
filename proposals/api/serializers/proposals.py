"""Proposals in and out, their versions and their activity."""

from datetime import date

from django.core.validators import MaxValueValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.ids import MAX_ID
from common.money import CURRENCIES, quantize
from proposals import payments, rules, selectors
from proposals.api.serializers.base import StrictSerializer, name_field, text_field
from proposals.api.serializers.content import SectionSerializer, TotalsSerializer, sections_input
from proposals.api.serializers.resources import ClientSummarySerializer
from proposals.api.serializers.schedule import (
    PaymentPartSerializer,
    ResolvedPaymentSerializer,
    schedule_input,
)
from proposals.models import Activity, Delivery, Proposal

# --- proposals -------------------------------------------------------------------------------

CURRENCY_CHOICES = sorted(CURRENCIES)
# The proposal expires at the end of that day: the day after must exist (date.max overflows).
LAST_VALID_UNTIL = date(9998, 12, 31)


def valid_until_field() -> serializers.DateField:
    return serializers.DateField(
        required=False,
        allow_null=True,
        validators=[MaxValueValidator(LAST_VALID_UNTIL)],
        help_text="Last day the client may accept (in the business's time zone).",
    )


class ProposalSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.CharField(source="display_number", read_only=True)
    title = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Proposal.Status.choices, read_only=True)
    client = ClientSummarySerializer(read_only=True)
    currency = serializers.CharField(read_only=True)
    total = serializers.SerializerMethodField(
        help_text="Total of the working copy; once accepted, what the client accepted "
        "(with the optional items they chose)."
    )
    valid_until = serializers.DateField(read_only=True, allow_null=True)
    revision = serializers.IntegerField(read_only=True, help_text="Also sent as the ETag.")
    has_unsent_changes = serializers.BooleanField(read_only=True)
    current_version = serializers.IntegerField(
        source="current_version.number", read_only=True, allow_null=True, default=None,
        help_text="Number of the version the client sees (null while a draft).",
    )  # fmt: skip
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    viewed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    answered_at = serializers.DateTimeField(read_only=True, allow_null=True)
    expired_at = serializers.DateTimeField(read_only=True, allow_null=True)
    withdrawn_at = serializers.DateTimeField(read_only=True, allow_null=True)

    @extend_schema_field({"type": "string", "format": "decimal", "example": "1250.00"})
    def get_total(self, proposal: Proposal) -> str:
        return str(quantize(proposal.total, proposal.currency))


class AcceptedItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True, help_text="The line item's id when it was sent.")
    name = serializers.CharField(read_only=True)


class AcceptanceSummarySerializer(serializers.Serializer):
    signed_name = serializers.CharField(read_only=True)
    accepted_at = serializers.DateTimeField(read_only=True)
    version = serializers.IntegerField(
        source="version.number", read_only=True, help_text="The version accepted."
    )
    total = serializers.SerializerMethodField(help_text="What the client accepted.")
    selected_items = serializers.SerializerMethodField(
        help_text="The optional items the client chose (counted in the total)."
    )
    payment_schedule = serializers.SerializerMethodField(
        help_text="The accepted version's schedule as amounts and days for this total, each "
        "payment with its invoice once there is one."
    )

    @extend_schema_field({"type": "string", "format": "decimal", "example": "1250.00"})
    def get_total(self, acceptance) -> str:
        return str(quantize(acceptance.total, acceptance.version.snapshot["currency"]))

    @extend_schema_field(ResolvedPaymentSerializer(many=True))
    def get_payment_schedule(self, acceptance) -> list[dict]:
        return payments.with_progress(acceptance)

    @extend_schema_field(AcceptedItemSerializer(many=True))
    def get_selected_items(self, acceptance) -> list[dict]:
        return selectors.accepted_content(acceptance=acceptance).chosen_ids()


class ProposalSerializer(ProposalSummarySerializer):
    intro = serializers.CharField(read_only=True, help_text="Sanitised HTML.")
    terms = serializers.CharField(read_only=True, help_text="Sanitised HTML.")
    decline_reason = serializers.CharField(read_only=True)
    sections = serializers.SerializerMethodField()
    payment_schedule = PaymentPartSerializer(
        many=True, read_only=True, help_text="The working copy's deposit and milestones."
    )
    totals = serializers.SerializerMethodField()
    acceptance = serializers.SerializerMethodField()

    @extend_schema_field(SectionSerializer(many=True))
    def get_sections(self, proposal: Proposal) -> list[dict]:
        # The stub types .data as a Serializer's dict; many=True makes a ListSerializer's list.
        return SectionSerializer(self.context["sections"], many=True).data  # type: ignore[return-value]

    @extend_schema_field(TotalsSerializer)
    def get_totals(self, proposal: Proposal) -> dict:
        """Computed by the same code as the dashboard (common.money); once accepted, the
        totals of what the client signed (with the optional items they chose)."""
        acceptance = self.context.get("acceptance")
        if acceptance is not None:
            return TotalsSerializer(selectors.accepted_content(acceptance=acceptance).totals).data
        return TotalsSerializer(self.context["totals"]).data

    @extend_schema_field(AcceptanceSummarySerializer(allow_null=True))
    def get_acceptance(self, proposal: Proposal) -> dict | None:
        """Null until accepted."""
        acceptance = self.context.get("acceptance")
        return AcceptanceSummarySerializer(acceptance).data if acceptance is not None else None


class ProposalCreateSerializer(StrictSerializer):
    client = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of one of your clients."
    )
    title = name_field(
        required=False, help_text="Required, unless you start from a template (its title)."
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, required=False, help_text="Default: the business's currency."
    )
    valid_until = valid_until_field()
    intro = text_field(rules.MAX_TEXT, help_text="HTML; sanitised.")
    terms = text_field(rules.MAX_TEXT, help_text="HTML; sanitised.")
    sections = sections_input(required=False)
    payment_schedule = schedule_input(
        required=False, help_text="Default: the template's schedule, or none."
    )
    template = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Start from this template's content.",
    )

    # One of them at least (the schema's anyOf says so too: proposals.api.schema).
    REQUIRES_ONE_OF = ("title", "template")

    def validate(self, attrs: dict) -> dict:
        if not any(name in attrs for name in self.REQUIRES_ONE_OF):
            raise serializers.ValidationError(
                {"title": ["Give a title, or a template to take it from."]}
            )
        return attrs


class ProposalUpdateSerializer(StrictSerializer):
    client = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    title = name_field(required=False)
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
    valid_until = valid_until_field()
    intro = text_field(rules.MAX_TEXT, help_text="HTML; sanitised.")
    terms = text_field(rules.MAX_TEXT, help_text="HTML; sanitised.")
    sections = sections_input(required=False, help_text="Replaces all sections when given.")
    payment_schedule = schedule_input(required=False)


class ProposalSendSerializer(StrictSerializer):
    message = text_field(
        rules.MAX_MESSAGE, default="", help_text="A personal note in the email to the client."
    )


class ProposalDuplicateSerializer(StrictSerializer):
    title = name_field(
        required=False,
        help_text="The new draft's title (the client sees it in the email's subject). "
        'Default: the original\'s title followed by " (copy)".',
    )


class EmptySerializer(StrictSerializer):
    # No parameters (an empty JSON object or no body).
    pass


# --- versions, activity, deliveries ------------------------------------------------------------


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True)
    recipient_email = serializers.EmailField(read_only=True)
    message = serializers.CharField(read_only=True)
    content_hash = serializers.CharField(read_only=True)
    withdrawn = serializers.SerializerMethodField()
    sent_by = serializers.EmailField(
        source="sent_by.email", read_only=True, default=None, allow_null=True
    )

    def get_withdrawn(self, version) -> bool:
        return version.token_revoked_at is not None


class VersionDetailSerializer(VersionSerializer):
    snapshot = serializers.JSONField(
        read_only=True, help_text="The frozen content the client saw, totals included."
    )


class ActivitySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Activity.Kind.choices, read_only=True)
    actor_type = serializers.ChoiceField(choices=Activity.Actor.choices, read_only=True)
    actor = serializers.EmailField(
        source="actor_user.email", read_only=True, default=None, allow_null=True
    )
    version = serializers.IntegerField(
        source="version.number", read_only=True, default=None, allow_null=True
    )
    details = serializers.DictField(read_only=True)
    request_id = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class DeliveryAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True)
    outcome = serializers.CharField(read_only=True)
    smtp_code = serializers.IntegerField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)


class DeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Delivery.Kind.choices, read_only=True)
    state = serializers.ChoiceField(choices=Delivery.State.choices, read_only=True)
    recipient = serializers.EmailField(read_only=True)
    proposal = serializers.IntegerField(source="proposal_id", read_only=True, allow_null=True)
    attempt_count = serializers.IntegerField(read_only=True)
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_error = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)
