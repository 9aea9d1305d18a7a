"""A proposal's or a template's content: sections of line items, and the totals."""

from rest_framework import serializers

from proposals import rules
from proposals.api.serializers.base import (
    StrictBooleanField,
    StrictSerializer,
    amount_input,
    amount_output,
    computed_amount,
    name_field,
    text_field,
)

# --- line items and sections -----------------------------------------------------------------
SOURCE_HELP = (
    "The catalog item the line was copied from: wix-stores:<product id>[/<variant id>] or "
    'wix-bookings:<service id>; "" for a line typed by hand. A reference only: the line\'s own '
    "name and price are what the proposal says."
)


class LineItemInputSerializer(StrictSerializer):
    name = name_field()
    description = text_field(rules.MAX_TEXT, default="")
    quantity = amount_input(rules.QUANTITY_DIGITS, rules.MAX_QUANTITY, default="1")
    unit_price = amount_input(rules.UNIT_PRICE_DIGITS, rules.MAX_UNIT_PRICE)
    discount_percent = amount_input(rules.PERCENT_DIGITS, rules.MAX_PERCENT, default="0")
    tax_rate = amount_input(rules.PERCENT_DIGITS, rules.MAX_PERCENT, default="0")
    optional = StrictBooleanField(default=False)
    selected = StrictBooleanField(
        default=True, help_text="For optional items: ticked when the client opens the proposal."
    )
    # The schema's pattern is the rule's, so a client (and schemathesis) knows the form.
    # (A field named "source": DRF collects it as any other; only the stubs see Field.source.)
    source = serializers.RegexField(  # type: ignore[assignment]
        rules.SOURCE_PATTERN,
        max_length=rules.MAX_SOURCE,
        allow_blank=True,
        default="",
        help_text=SOURCE_HELP,
        error_messages={"invalid": rules.SOURCE_INVALID},
    )


class SectionInputSerializer(StrictSerializer):
    title = text_field(rules.MAX_NAME, default="")
    items = LineItemInputSerializer(  # type: ignore[call-arg]  # stub lacks many=True's max_length
        many=True,
        max_length=rules.MAX_ITEMS,
        error_messages={"max_length": rules.TOO_MANY_ITEMS},
        default=list,
    )


class LineItemSerializer(serializers.Serializer):
    # Optional so that a subclass may drop it (DRF's way: set it to None).
    id: serializers.IntegerField | None = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    quantity = amount_output(rules.QUANTITY_DIGITS)
    unit_price = amount_output(rules.UNIT_PRICE_DIGITS)
    discount_percent = amount_output(rules.PERCENT_DIGITS)
    tax_rate = amount_output(rules.PERCENT_DIGITS)
    optional = serializers.BooleanField(read_only=True)
    selected = serializers.BooleanField(read_only=True)
    # Lines saved before sources existed (templates' stored JSON) have none: "".
    source = serializers.CharField(read_only=True, default="", help_text=SOURCE_HELP)  # type: ignore[assignment]


class SectionSerializer(serializers.Serializer):
    title = serializers.CharField(read_only=True)
    items = LineItemSerializer(many=True, read_only=True)


class TemplateLineItemSerializer(LineItemSerializer):
    id = None


class TemplateSectionSerializer(serializers.Serializer):
    title = serializers.CharField(read_only=True)
    items = TemplateLineItemSerializer(many=True, read_only=True)


class TotalsSerializer(serializers.Serializer):
    currency = serializers.CharField(read_only=True)
    subtotal = computed_amount()
    discount = computed_amount()
    tax = computed_amount()
    total = computed_amount()


def sections_input(**kwargs) -> "SectionInputSerializer":
    return SectionInputSerializer(  # type: ignore[call-arg]  # stub lacks many=True's max_length
        many=True,
        max_length=rules.MAX_SECTIONS,
        error_messages={"max_length": rules.TOO_MANY_SECTIONS},
        **kwargs,
    )
