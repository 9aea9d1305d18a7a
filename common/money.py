"""Money: currencies, minor units and the one place proposal totals are computed.

Lines are rounded half-up to the currency's minor units one by one, and totals are sums of
rounded lines, so a total always equals the sum of the lines a client sees.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 codes accepted for proposals, with their minor units where not 2.
CURRENCIES: frozenset[str] = frozenset(
    """AED ARS AUD BGN BHD BRL CAD CHF CLP CNY COP CZK DKK EGP EUR GBP HKD HUF IDR ILS INR ISK
    JOD JPY KES KRW KWD MAD MXN MYR NGN NOK NZD OMR PEN PHP PKR PLN QAR RON RSD SAR SEK SGD THB
    TND TRY TWD UAH USD VND ZAR""".split()
)
_MINOR_UNITS = {
    "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
    "CLP": 0, "ISK": 0, "JPY": 0, "KRW": 0, "VND": 0,
}  # fmt: skip

ZERO = Decimal("0")
HUNDRED = Decimal("100")


def is_currency(code: str) -> bool:
    return code in CURRENCIES


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return amount.quantize(exponent, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    unit_price: Decimal
    discount_percent: Decimal = ZERO
    tax_rate: Decimal = ZERO
    optional: bool = False
    selected: bool = True
    key: str = ""


@dataclass(frozen=True)
class LineTotal:
    key: str
    included: bool
    subtotal: Decimal  # quantity × unit price, after discount, before tax
    discount: Decimal
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class Totals:
    currency: str
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    lines: tuple[LineTotal, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {
            "currency": self.currency,
            "subtotal": str(self.subtotal),
            "discount": str(self.discount),
            "tax": str(self.tax),
            "total": str(self.total),
        }


def line_total(line: LineInput, currency: str) -> LineTotal:
    gross = line.quantity * line.unit_price
    discount = quantize(gross * line.discount_percent / HUNDRED, currency)
    net = quantize(gross, currency) - discount
    tax = quantize(net * line.tax_rate / HUNDRED, currency)
    included = line.selected or not line.optional
    return LineTotal(
        key=line.key, included=included, subtotal=net, discount=discount, tax=tax, total=net + tax
    )


def compute_totals(lines: Iterable[LineInput], currency: str) -> Totals:
    """Totals of the included lines (required lines, and optional lines the client selected)."""
    computed = tuple(line_total(line, currency) for line in lines)
    included = [line for line in computed if line.included]
    zero = quantize(ZERO, currency)
    return Totals(
        currency=currency,
        subtotal=sum((line.subtotal for line in included), zero),
        discount=sum((line.discount for line in included), zero),
        tax=sum((line.tax for line in included), zero),
        total=sum((line.total for line in included), zero),
        lines=computed,
    )
