"""What every API shape is built from: strict input, bounded text, amounts as documented."""

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal

from rest_framework import serializers

from proposals import rules


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


class StrictBooleanField(serializers.BooleanField):
    """JSON ``true`` or ``false`` only: DRF's BooleanField also takes 0, 1, "yes", "off"…,
    which the schema (type boolean) says are wrong, so they are refused as such."""

    def to_internal_value(self, data):
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


def text_field(max_length: int, **kwargs) -> serializers.CharField:
    kwargs.setdefault("required", False)
    kwargs.setdefault("allow_blank", True)
    return serializers.CharField(
        max_length=max_length,
        trim_whitespace=False,
        error_messages={"max_length": rules.too_long(max_length)},
        **kwargs,
    )


def name_field(**kwargs) -> serializers.CharField:
    # Not trimmed here: a name of spaces only reaches the service, which refuses it as a rule
    # (422) -- the schema can promise "at least one character", not the service's idea of blank.
    kwargs.setdefault("required", True)
    kwargs.setdefault("allow_blank", False)
    return text_field(rules.MAX_NAME, **kwargs)


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


def amount_input(digits: tuple[int, int], max_value: Decimal, **kwargs) -> AmountField:
    return AmountField(
        max_digits=digits[0], decimal_places=digits[1], max_value=max_value, **kwargs
    )


def amount_output(digits: tuple[int, int]) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=digits[0], decimal_places=digits[1], read_only=True)


def computed_amount() -> serializers.DecimalField:
    # Already rounded to the currency's minor units by common.money: shown as computed.
    return serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True)
