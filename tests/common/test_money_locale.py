"""Amounts written and read as a business's locale does (issue 13, points 2 and 3)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.money import (
    AmountError,
    babel_locale,
    current_locale,
    format_money,
    format_number,
    in_locale_of,
    number_symbols,
    parse_amount,
    use_locale,
)


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("en", "1234.5", "USD", "$1,234.50"),
        ("en-US", "1234.5", "EUR", "€1,234.50"),
        ("de-DE", "1234.5", "EUR", "1.234,50\xa0€"),
        ("de", "1234.5", "USD", "1.234,50\xa0$"),
        ("fr", "1234.5", "EUR", "1\u202f234,50\xa0€"),
        ("de-CH", "1234.5", "CHF", "CHF\xa01’234.50"),
        ("ja", "1234.5", "JPY", "￥1,235"),  # no minor units, rounded half-up
        ("en", "1.2345", "KWD", "KWD1.235"),  # three minor units
        ("en", "0.005", "USD", "$0.01"),  # half-up, as totals are rounded
    ],
)
def test_format_money_uses_the_locale_and_the_currency(locale, amount, currency, expected):
    assert format_money(Decimal(amount), currency, locale) == expected


def test_a_country_cldr_has_no_locale_for_keeps_the_language():
    assert str(babel_locale("de-US")) == "de"
    assert format_money("1234.5", "USD", "de-US") == "1.234,50\xa0$"
    assert str(babel_locale("es-MX")) == "es_MX"  # a real regional locale is kept
    assert parse_amount("1,234.5", "es-MX") == Decimal("1234.5")


def test_unknown_or_empty_locale_is_english_us():
    assert format_money("12", "USD", "xx-invalid") == "$12.00"
    assert format_money("12", "USD", "") == "$12.00"
    assert str(babel_locale(None)) == "en_US"


def test_not_a_number_formats_as_nothing():
    for amount in (None, "", "abc", "NaN", "Infinity"):
        assert format_money(amount, "USD", "en") == ""


def test_use_locale_binds_the_default_for_a_block_and_restores_it():
    assert current_locale() == "en_US"
    with use_locale("de-DE"):
        assert format_money("1.5", "EUR") == "1,50\xa0€"
        assert parse_amount("1,5") == Decimal("1.5")
        with use_locale("en"):
            assert format_money("1.5", "EUR") == "€1.50"
        assert current_locale() == "de-DE"
    assert current_locale() == "en_US"
    assert format_money("1.5", "EUR") == "€1.50"


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        ("de-DE", "1,5", "1.5"),
        ("de-DE", "1.234,56", "1234.56"),
        ("de-DE", "1.000", "1000"),  # a German thousand, never one
        ("de", "1234,5", "1234.5"),
        ("en-US", "1.5", "1.5"),
        ("en-US", "1,234.56", "1234.56"),
        ("en-US", " 12 ", "12"),
        ("fr-FR", "1 234,5", "1234.5"),  # a typed space for French's narrow no-break space
        ("fr-FR", "1\u202f234,5", "1234.5"),
        ("pl", "1 000,5", "1000.5"),
        ("de-CH", "1’234.5", "1234.5"),
    ],
)
def test_parse_amount_reads_the_locale(locale, text, expected):
    assert parse_amount(text, locale) == Decimal(expected)


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en-US", "1,5"),  # 15 or 1.5? refused, never read as 15
        ("en-US", "12,34"),
        ("de-DE", "1.5"),  # 15 or 1,5? refused
        ("de-DE", "1234.5"),
        ("en-US", "١٠٠"),  # Arabic-Indic digits: refused, not converted
        ("en-US", "１００"),  # full-width digits
        ("de-DE", "１,５"),
        ("ar", "١٠٠"),
        ("en-US", "1e5"),
        ("en-US", "NaN"),
        ("en-US", "Infinity"),
        ("en-US", ""),
        ("en-US", "1.2.3"),
        ("en-US", "$5"),
        ("en-US", "1,,2"),
    ],
)
def test_parse_amount_refuses_what_it_would_have_to_guess(locale, text):
    with pytest.raises(AmountError):
        parse_amount(text, locale)


def test_refusal_says_how_to_write_the_number():
    with pytest.raises(AmountError) as exc:
        parse_amount("1,5", "en-US")
    message = str(exc.value)
    assert "English (United States)" in message and "1234.56 or 1,234.56" in message
    with pytest.raises(AmountError) as exc:
        parse_amount("1.5", "de-DE")
    assert "German (Germany)" in str(exc.value) and "1234,56 or 1.234,56" in str(exc.value)
    assert "“1,5”" in str(exc.value)  # what was probably meant


def test_format_number_is_what_parse_amount_reads_back():
    assert format_number(Decimal("1234.500"), "de-DE") == "1234,5"
    assert format_number(Decimal("10"), "de-DE") == "10"
    assert format_number(Decimal("1E+1"), "en") == "10"
    assert format_number(Decimal("0.0001"), "fr") == "0,0001"


@given(
    st.decimals(min_value=0, max_value=Decimal("9999999999.9999"), places=4),
    st.sampled_from(["en-US", "de-DE", "fr-FR", "de-CH", "pl", "ja", "ar", "hi-IN"]),
)
def test_a_stored_number_shown_in_the_editor_reads_back_the_same(value, locale):
    assert parse_amount(format_number(value, locale), locale) == value


def test_number_symbols_for_the_browser():
    symbols = number_symbols("de-DE")
    assert (symbols["tag"], symbols["decimal"], symbols["group"]) == ("de-DE", ",", ".")
    assert '"JPY": 0' in symbols["minor_units"] and '"KWD": 3' in symbols["minor_units"]


def test_in_locale_of_binds_the_locale_the_arguments_name():
    @in_locale_of(lambda code, amount: code)
    def shown(code, amount):
        return format_money(amount, "EUR"), current_locale()

    assert shown("de-DE", "1.5") == ("1,50\xa0€", "de-DE")
    assert current_locale() == "en_US"


@given(
    st.decimals(min_value=0, max_value=Decimal("99999999999.99"), places=3),
    st.sampled_from(["en-US", "de-DE", "fr-FR", "de-CH", "es", "pl", "ja", "ar", "he", "en-IN"]),
    st.sampled_from(["USD", "EUR", "JPY", "KWD", "CHF", "INR"]),
)
def test_the_fast_path_writes_exactly_what_babel_writes(value, locale, currency):
    from common.money import _babel_money, minor_units, quantize

    amount = quantize(value, currency)
    assert format_money(value, currency, locale) == _babel_money(
        amount, currency, locale, minor_units(currency)
    )


def test_indian_grouping_is_babels():
    assert format_money("1234567.5", "INR", "en-IN") == "₹12,34,567.50"
