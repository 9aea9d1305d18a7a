"""Shapes of the API: strict input (unknown fields are refused) and read-only output.

Input serializers check types and sizes only; the business rules (who may do what, totals,
sanitising) run in ``proposals.services`` and ``proposals.rules``, as for the dashboard.
"""

import math
import re
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.core.validators import MaxValueValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.ids import MAX_ID
from common.money import CURRENCIES, quantize
from proposals import rules, selectors
from proposals.models import Activity, Delivery, Proposal


class StrictSerializer(serializers.Serializer):
    # Refuses fields it does not know instead of silently dropping them (typos, injection).
    # (A comment: drf-spectacular would copy a docstring into every request schema.)

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(
                set(data) - {name for name, f in self.fields.items() if not f.read_only}
            )
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown[:20]}
                )
        return super().to_internal_value(data)


def _text(max_length: int, **kwargs) -> serializers.CharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    return serializers.CharField(
        max_length=max_length,
        trim_whitespace=False,
        error_messages={"max_length": rules.too_long(max_length)},
        **kwargs,
    )


def _name(**kwargs) -> serializers.CharField:
    # Not trimmed here: a name of spaces only reaches the service, which refuses it as a rule
    # (422) -- the schema can promise "at least one character", not the service's idea of blank.
    kwargs.setdefault("required", True)
    kwargs.setdefault("allow_blank", False)
    return _text(rules.MAX_NAME, **kwargs)


# --- amounts ---------------------------------------------------------------------------------


def decimal_pattern(max_digits: int, decimal_places: int, max_value: Decimal) -> str:
    """The documented shape of a non-negative amount string, up to ``max_value``.

    ``max_value`` is either every digit a 9 (999.99) or a round cap (100): what the line
    item fields use. Anything else is a programming error, refused at import.
    """
    whole = max_digits - decimal_places
    fraction = rf"(?:\.[0-9]{{0,{decimal_places}}})?"
    only_fraction = rf"\.[0-9]{{1,{decimal_places}}}"
    if max_value == rules.largest_decimal((max_digits, decimal_places)):
        return rf"^(?:[0-9]{{1,{whole}}}{fraction}|{only_fraction})$"
    if max_value == Decimal(10) ** (whole - 1):
        cap = rf"{int(max_value)}(?:\.0{{0,{decimal_places}}})?"
        below = rf"[0-9]{{1,{whole - 1}}}{fraction}"
        return rf"^(?:{below}|{only_fraction}|{cap})$"
    raise ValueError(f"No pattern for a maximum of {max_value} in {max_digits},{decimal_places}")


class AmountField(serializers.DecimalField):
    """A non-negative decimal: a string as the schema documents it (digits and one point: no
    sign, exponent or spaces), or a JSON number, rounded to the field's decimal places (a
    binary float holds no exact decimal; 0.1 * 3 arrives as 0.30000000000000004).
    """

    def __init__(self, *, max_digits: int, decimal_places: int, max_value: Decimal, **kwargs):
        super().__init__(
            max_digits=max_digits,
            decimal_places=decimal_places,
            min_value=Decimal(0),
            max_value=Decimal(max_value),
            **kwargs,
        )
        self.pattern = decimal_pattern(max_digits, decimal_places, Decimal(max_value))
        self._shape = re.compile(self.pattern)

    def to_internal_value(self, data):
        if isinstance(data, str):
            if not self._shape.fullmatch(data):
                self.fail("invalid")
            return super().to_internal_value(data)
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        value = Decimal(str(data))
        if value < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if value > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        step = Decimal(1).scaleb(-self.decimal_places)
        return super().to_internal_value(str(value.quantize(step, rounding=ROUND_HALF_EVEN)))


def _amount_input(digits: tuple[int, int], max_value: Decimal, **kwargs) -> AmountField:
    return AmountField(
        max_digits=digits[0], decimal_places=digits[1], max_value=max_value, **kwargs
    )


def _sections_input(**kwargs) -> "SectionInputSerializer":
    return SectionInputSerializer(
        many=True,
        max_length=rules.MAX_SECTIONS,
        error_messages={"max_length": rules.TOO_MANY_SECTIONS},
        **kwargs,
    )


# --- line items and sections -----------------------------------------------------------------


class LineItemInputSerializer(StrictSerializer):
    name = _name()
    description = _text(rules.MAX_TEXT, default="")
    quantity = _amount_input(rules.QUANTITY_DIGITS, rules.MAX_QUANTITY, default="1")
    unit_price = _amount_input(rules.UNIT_PRICE_DIGITS, rules.MAX_UNIT_PRICE)
    discount_percent = _amount_input(rules.PERCENT_DIGITS, rules.MAX_PERCENT, default="0")
    tax_rate = _amount_input(rules.PERCENT_DIGITS, rules.MAX_PERCENT, default="0")
    optional = serializers.BooleanField(default=False)
    selected = serializers.BooleanField(
        default=True, help_text="For optional items: ticked when the client opens the proposal."
    )


class SectionInputSerializer(StrictSerializer):
    title = _text(rules.MAX_NAME, default="")
    items = LineItemInputSerializer(
        many=True,
        max_length=rules.MAX_ITEMS,
        error_messages={"max_length": rules.TOO_MANY_ITEMS},
        default=list,
    )


def _amount_output(digits: tuple[int, int]) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=digits[0], decimal_places=digits[1], read_only=True)


class LineItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    quantity = _amount_output(rules.QUANTITY_DIGITS)
    unit_price = _amount_output(rules.UNIT_PRICE_DIGITS)
    discount_percent = _amount_output(rules.PERCENT_DIGITS)
    tax_rate = _amount_output(rules.PERCENT_DIGITS)
    optional = serializers.BooleanField(read_only=True)
    selected = serializers.BooleanField(read_only=True)


class SectionSerializer(serializers.Serializer):
    title = serializers.CharField(read_only=True)
    items = LineItemSerializer(many=True, read_only=True)


class TemplateLineItemSerializer(LineItemSerializer):
    id = None


class TemplateSectionSerializer(serializers.Serializer):
    title = serializers.CharField(read_only=True)
    items = TemplateLineItemSerializer(many=True, read_only=True)


def _amount() -> serializers.DecimalField:
    # Already rounded to the currency's minor units by common.money: shown as computed.
    return serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True)


class TotalsSerializer(serializers.Serializer):
    currency = serializers.CharField(read_only=True)
    subtotal = _amount()
    discount = _amount()
    tax = _amount()
    total = _amount()


# --- clients ---------------------------------------------------------------------------------


class ClientSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    company = serializers.CharField(read_only=True)
    wix_contact_id = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ClientInputSerializer(StrictSerializer):
    name = _name()
    email = serializers.EmailField(max_length=254)
    company = _text(rules.MAX_NAME, default="")


class ClientPatchSerializer(ClientInputSerializer):
    name = _name(required=False)
    email = serializers.EmailField(max_length=254, required=False)
    company = _text(rules.MAX_NAME)


class ClientSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    company = serializers.CharField(read_only=True)


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

    @extend_schema_field({"type": "string", "format": "decimal", "example": "1250.00"})
    def get_total(self, acceptance) -> str:
        return str(quantize(acceptance.total, acceptance.version.snapshot["currency"]))

    @extend_schema_field(AcceptedItemSerializer(many=True))
    def get_selected_items(self, acceptance) -> list[dict]:
        return selectors.accepted_content(acceptance=acceptance).chosen_ids()


class ProposalSerializer(ProposalSummarySerializer):
    intro = serializers.CharField(read_only=True, help_text="Sanitised HTML.")
    terms = serializers.CharField(read_only=True, help_text="Sanitised HTML.")
    decline_reason = serializers.CharField(read_only=True)
    sections = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    acceptance = serializers.SerializerMethodField()

    @extend_schema_field(SectionSerializer(many=True))
    def get_sections(self, proposal: Proposal) -> list[dict]:
        return SectionSerializer(self.context["sections"], many=True).data

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
    title = _name(
        required=False, help_text="Required, unless you start from a template (its title)."
    )
    currency = serializers.ChoiceField(
        choices=CURRENCY_CHOICES, required=False, help_text="Default: the business's currency."
    )
    valid_until = valid_until_field()
    intro = _text(rules.MAX_TEXT, help_text="HTML; sanitised.")
    terms = _text(rules.MAX_TEXT, help_text="HTML; sanitised.")
    sections = _sections_input(required=False)
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
    title = _name(required=False)
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, required=False)
    valid_until = valid_until_field()
    intro = _text(rules.MAX_TEXT, help_text="HTML; sanitised.")
    terms = _text(rules.MAX_TEXT, help_text="HTML; sanitised.")
    sections = _sections_input(required=False, help_text="Replaces all sections when given.")


class ProposalSendSerializer(StrictSerializer):
    message = _text(
        rules.MAX_MESSAGE, default="", help_text="A personal note in the email to the client."
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


# --- templates -------------------------------------------------------------------------------


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    intro = serializers.CharField(read_only=True)
    terms = serializers.CharField(read_only=True)
    sections = TemplateSectionSerializer(many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class TemplateInputSerializer(StrictSerializer):
    name = _name()
    title = _text(rules.MAX_NAME, default="")
    intro = _text(rules.MAX_TEXT, default="")
    terms = _text(rules.MAX_TEXT, default="")
    sections = _sections_input(default=list)


class TemplatePatchSerializer(TemplateInputSerializer):
    name = _name(required=False)
    title = _text(rules.MAX_NAME)
    intro = _text(rules.MAX_TEXT)
    terms = _text(rules.MAX_TEXT)
    sections = _sections_input(required=False)


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
    usage = UsageSerializer(read_only=True)
