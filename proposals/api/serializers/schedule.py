"""A payment schedule in and out: the parts as written, and as resolved on acceptance.

Input is checked for its shape here (400); whether the parts add up, their dates and counts
are rules, checked by ``proposals.schedule`` in the services for every door (422).
"""

from rest_framework import serializers

from proposals import payments, rules, schedule
from proposals.api.serializers.base import StrictSerializer, amount_input, text_field

VALUE_HELP = (
    "`percent`: a percentage of the accepted total, more than 0 and at most 100 (2 decimals); "
    "`fixed`: an amount in the proposal's currency, more than 0 (its minor units); "
    "`balance`: none (null or absent)."
)


class PaymentPartInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(
        choices=schedule.KINDS, help_text="At most one `deposit`, and first; then milestones."
    )
    # A field named "label" (DRF pops declared fields off the class; the stub sees Field.label).
    label = text_field(rules.MAX_NAME, default="", help_text="Default: Deposit, Payment 1, …")  # type: ignore[assignment]
    amount_type = serializers.ChoiceField(
        choices=schedule.AMOUNT_TYPES,
        help_text="`balance` (the last part only) takes what the other parts leave.",
    )
    value = amount_input(
        rules.SCHEDULE_VALUE_DIGITS,
        rules.largest_decimal(rules.SCHEDULE_VALUE_DIGITS),
        required=False,
        allow_null=True,
        help_text=VALUE_HELP,
    )
    due = serializers.ChoiceField(
        choices=schedule.DUE_RULES,
        required=False,
        help_text="A deposit is due on `acceptance` (the default); a milestone on a `date` or "
        "`days_after` acceptance.",
    )
    due_date = serializers.DateField(
        required=False, allow_null=True, help_text="For `date`: today or later."
    )
    due_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=rules.MAX_DUE_DAYS,
        help_text="For `days_after`: days after acceptance.",
    )


class PaymentPartSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=schedule.KINDS, read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    amount_type = serializers.ChoiceField(choices=schedule.AMOUNT_TYPES, read_only=True)
    value = serializers.CharField(read_only=True, allow_null=True, help_text=VALUE_HELP)
    due = serializers.ChoiceField(choices=schedule.DUE_RULES, read_only=True)
    due_date = serializers.DateField(read_only=True, allow_null=True)
    due_days = serializers.IntegerField(read_only=True, allow_null=True)


class PaymentInvoiceSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=payments.INVOICE_STATUSES,
        read_only=True,
        help_text="The invoice in the business's Wix site: sent to the client when due.",
    )
    payment = serializers.ChoiceField(choices=payments.PAYMENT_STATES, read_only=True)
    number = serializers.CharField(read_only=True, help_text="Wix's invoice number, once given.")
    paid_amount = serializers.CharField(read_only=True)
    reason = serializers.CharField(read_only=True, help_text="Why it failed (status failed).")


class ResolvedPaymentSerializer(serializers.Serializer):
    position = serializers.IntegerField(read_only=True, help_text="1-based, the schedule's order.")
    kind = serializers.ChoiceField(choices=schedule.KINDS, read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    amount_type = serializers.ChoiceField(choices=schedule.AMOUNT_TYPES, read_only=True)
    percent = serializers.CharField(read_only=True, allow_null=True)
    amount = serializers.CharField(
        read_only=True,
        help_text="Exact, in the currency's minor units; the parts sum to the accepted total.",
    )
    currency = serializers.CharField(read_only=True)
    due = serializers.ChoiceField(choices=schedule.DUE_RULES, read_only=True)
    due_date = serializers.DateField(read_only=True, help_text="In the business's time zone.")
    invoice = PaymentInvoiceSerializer(read_only=True, allow_null=True)


def schedule_input(**kwargs) -> PaymentPartInputSerializer:
    kwargs.setdefault(
        "help_text",
        "The payment schedule; replaces the whole schedule when sent ([] removes it).",
    )
    # No max_length: the schema would not say it (no maxItems), so a longer list is
    # well-formed and the rule refuses it (422, rules.TOO_MANY_MILESTONES) before reading on.
    return PaymentPartInputSerializer(many=True, **kwargs)
