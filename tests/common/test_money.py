from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from common.money import LineInput, compute_totals, line_total, minor_units, quantize


def test_point_one_times_three_is_exact():
    totals = compute_totals([LineInput(quantity=Decimal("3"), unit_price=Decimal("0.1"))], "USD")
    assert totals.total == Decimal("0.30")


def test_half_up_rounding_of_33_335():
    assert quantize(Decimal("33.335"), "USD") == Decimal("33.34")
    assert quantize(Decimal("33.345"), "USD") == Decimal("33.35")  # not banker's rounding
    line = line_total(LineInput(quantity=Decimal("1"), unit_price=Decimal("33.335")), "EUR")
    assert line.total == Decimal("33.34")


def test_zero_decimal_currency():
    assert minor_units("JPY") == 0
    totals = compute_totals(
        [LineInput(quantity=Decimal("3"), unit_price=Decimal("333.5"), tax_rate=Decimal("10"))],
        "JPY",
    )
    assert totals.subtotal == Decimal("1001")  # 1000.5 rounds half up
    assert totals.tax == Decimal("100")
    assert totals.total == Decimal("1101")
    assert totals.total.as_tuple().exponent == 0


def test_three_decimal_currency():
    totals = compute_totals([LineInput(quantity=Decimal("1"), unit_price=Decimal("1.2345"))], "KWD")
    assert totals.total == Decimal("1.235")


def test_unselected_optional_lines_do_not_count():
    lines = [
        LineInput(quantity=Decimal("1"), unit_price=Decimal("10")),
        LineInput(quantity=Decimal("1"), unit_price=Decimal("5"), optional=True, selected=False),
    ]
    assert compute_totals(lines, "USD").total == Decimal("10.00")


amounts = st.decimals(min_value=0, max_value=Decimal("99999.9999"), places=4, allow_nan=False)
quantities = st.decimals(min_value=0, max_value=Decimal("9999.999"), places=3, allow_nan=False)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)
line_inputs = st.builds(
    LineInput,
    quantity=quantities,
    unit_price=amounts,
    discount_percent=percents,
    tax_rate=percents,
    optional=st.booleans(),
    selected=st.booleans(),
)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD", "GBP"])


@given(st.lists(line_inputs, max_size=20), currencies)
def test_total_is_the_sum_of_the_lines_and_never_negative(lines, currency):
    totals = compute_totals(lines, currency)
    included = [line for line in totals.lines if line.included]
    assert totals.total == sum((line.total for line in included), Decimal(0))
    assert totals.total == totals.subtotal + totals.tax
    assert totals.total >= 0 and totals.subtotal >= 0 and totals.tax >= 0
    assert -totals.total.as_tuple().exponent == minor_units(currency)


@given(st.lists(line_inputs, max_size=12), currencies, st.randoms())
def test_totals_do_not_depend_on_line_order(lines, currency, rnd):
    shuffled = list(lines)
    rnd.shuffle(shuffled)
    assert compute_totals(lines, currency).total == compute_totals(shuffled, currency).total
