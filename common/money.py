"""Money: currencies, minor units, the one place proposal totals are computed, and the one
place amounts are written and read as a business's locale does (Babel's CLDR data).

Lines are rounded half-up to the currency's minor units one by one, and totals are sums of
rounded lines, so a total always equals the sum of the lines a client sees.

Formatting and parsing use the locale given, or the one of the current request or task
(``use_locale``; the dashboard's middleware sets the signed-in business's). Arithmetic never
depends on it: it stays exact ``Decimal``.
"""

import copy
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import (
    NumberFormatError,
    NumberPattern,
    get_decimal_symbol,
    get_group_symbol,
    parse_decimal,
)

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

    @property
    def has_discount(self) -> bool:
        """Whether a discount is counted: the one rule for showing "Discounts included"."""
        return self.discount != 0

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


# --- locale: how a business writes amounts -----------------------------------------------
DEFAULT_LOCALE = "en_US"
_current_locale: ContextVar[str] = ContextVar("money_locale", default=DEFAULT_LOCALE)
_SPACES = {" ", "\u00a0", "\u202f"}  # typed spaces stand for a locale's space-like group mark
_ASCII_DIGITS = frozenset("0123456789")


class AmountError(ValueError):
    """Typed text that is not an amount as the locale writes it; ``str()`` is for the user."""


@functools.lru_cache(maxsize=512)
def babel_locale(code: str | None) -> Locale:
    """A stored locale (``de``, ``de-DE``, ``de_DE``) as Babel's.

    A language with a country CLDR has no locale for (``de-US``: a German site in the US)
    falls back to the language; anything else unknown to English (US).
    """
    name = str(code or "").strip().replace("-", "_") or DEFAULT_LOCALE
    for candidate in (name, name.split("_")[0]):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    return Locale.parse(DEFAULT_LOCALE)


# The locales a business can choose in Settings (language and country, as CLDR has them).
SUPPORTED_LOCALES: tuple[str, ...] = tuple(
    """en-US en-GB en-CA en-AU en-IE en-NZ en-IN en-ZA de-DE de-AT de-CH fr-FR fr-CA fr-BE fr-CH
    es-ES es-MX es-AR es-CO it-IT nl-NL nl-BE pt-BR pt-PT pl-PL sv-SE da-DK nb-NO fi-FI cs-CZ
    hu-HU ro-RO el-GR tr-TR ru-RU uk-UA he-IL ja-JP ko-KR zh-CN zh-TW id-ID""".split()
)
_SUPPORTED_BY_KEY = {code.lower().replace("_", "-"): code for code in SUPPORTED_LOCALES}


def supported_locale(code: object) -> str | None:
    """``de_DE``, ``de-de`` → ``de-DE`` when the product supports it; None otherwise."""
    if not isinstance(code, str):
        return None
    return _SUPPORTED_BY_KEY.get(code.strip().lower().replace("_", "-"))


def locale_label(code: str | None) -> str:
    """A locale as CLDR names it, in English and in itself: ``German (Germany) · Deutsch …``."""
    loc = babel_locale(code)
    # Babel returns None for a locale it has no name for in that language: fall back to the code.
    english = loc.get_display_name("en") or str(loc)
    own = loc.get_display_name()
    return english if own is None or own == english else f"{english} · {own}"


@functools.cache
def locale_choices() -> tuple[tuple[str, str], ...]:
    """The supported locales as (code, CLDR name), for a select; sorted by the English name."""
    return tuple(sorted(((c, locale_label(c)) for c in SUPPORTED_LOCALES), key=lambda c: c[1]))


def current_locale() -> str:
    return _current_locale.get()


@contextmanager
def use_locale(code: str | None) -> Iterator[None]:
    """Format and parse amounts as ``code`` writes them inside the block (a request, an email)."""
    token = _current_locale.set(code or DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current_locale.reset(token)


def in_locale_of(locale_of: Callable[..., str | None]) -> Callable:
    """Decorator: run the function inside ``use_locale(locale_of(*args, **kwargs))``.

    For code that renders amounts outside a dashboard request (an email built by a worker).
    """

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with use_locale(locale_of(*args, **kwargs)):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def _locale_code(code: str | None) -> str:
    return code if code is not None else _current_locale.get()


@functools.lru_cache(maxsize=1024)
def _currency_pattern(locale_name: str, places: int) -> NumberPattern:
    pattern = copy.copy(babel_locale(locale_name).currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return pattern


def format_money(amount: object, currency: str, locale: str | None = None) -> str:
    """``1234.5`` in EUR → ``1.234,50 €`` (de-DE) or ``€1,234.50`` (en-US); "" if no number.

    Rounded half-up to the currency's minor units as totals are, whatever CLDR's cash digits.
    """
    try:
        value = quantize(Decimal(str(amount)), currency)
    except (InvalidOperation, ValueError, TypeError):
        return ""
    if not value.is_finite():
        return ""
    code = _locale_code(locale)
    places = minor_units(currency)
    frame = _money_frame(code, currency, places) if value >= 0 else None
    if frame is not None:
        return frame.write(value)
    return _babel_money(value, currency, code, places)


def _babel_money(value: Decimal, currency: str, code: str, places: int) -> str:
    pattern = _currency_pattern(code, places)
    return pattern.apply(value, babel_locale(code), currency=currency, currency_digits=False)


@dataclass(frozen=True)
class _MoneyFrame:
    """What Babel writes around a non-negative amount of one currency in one locale."""

    prefix: str
    suffix: str
    places: int
    decimal: str
    group: str

    def write(self, value: Decimal) -> str:
        digits = f"{value:,.{self.places}f}"
        digits = digits.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)
        return f"{self.prefix}{digits}{self.suffix}"


# Amounts a frame must write exactly as Babel does before it is used (grouping, small values).
_FRAME_CHECKS = tuple(
    Decimal(v) for v in ("0", "7", "12.5", "999", "1234.5", "98765", "1234567.891")
)


@functools.lru_cache(maxsize=2048)
def _money_frame(code: str, currency: str, places: int) -> _MoneyFrame | None:
    """Babel's own output, taken apart once per locale and currency, for the busy pages.

    ``NumberPattern.apply`` costs several times a plain format; the symbols, the currency's
    sign and its place come from Babel's rendering of a sample, and the frame is only used
    where it writes every check amount exactly as Babel does (a locale with other grouping,
    such as en-IN's 12,34,567, or other digits keeps calling Babel).
    """
    loc = babel_locale(code)
    frame = _MoneyFrame("", "", places, get_decimal_symbol(loc), get_group_symbol(loc))
    sample = quantize(Decimal("1234567.891"), currency)
    shown = _babel_money(sample, currency, code, places)
    number = frame.write(sample)
    if shown.count(number) != 1:
        return None
    prefix, suffix = shown.split(number)
    frame = _MoneyFrame(prefix, suffix, places, frame.decimal, frame.group)
    for check in _FRAME_CHECKS:
        amount = quantize(check, currency)
        if frame.write(amount) != _babel_money(amount, currency, code, places):
            return None
    return frame


def format_number(value: Decimal, locale: str | None = None) -> str:
    """A stored quantity or price as the locale types it, without grouping: ``1234,5`` (de)."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", get_decimal_symbol(babel_locale(_locale_code(locale))))


def number_symbols(locale: str | None = None) -> dict[str, str]:
    """What a browser needs to read and show numbers as the server does (the editor's estimate).

    ``tag`` for ``Intl``, the ``decimal`` and ``group`` marks ``parse_amount`` accepts, and the
    currencies whose minor units are not 2 (as ``minor_units`` has them).
    """
    loc = babel_locale(_locale_code(locale))
    return {
        "tag": str(loc).replace("_", "-"),
        "decimal": get_decimal_symbol(loc),
        "group": get_group_symbol(loc),
        "minor_units": json.dumps(_MINOR_UNITS, sort_keys=True),
    }


def number_example(locale: str | None = None) -> str:
    """``1234.56 or 1,234.56`` (en-US), ``1234,56 or 1.234,56`` (de-DE): for help and errors."""
    loc = babel_locale(_locale_code(locale))
    decimal, group = get_decimal_symbol(loc), get_group_symbol(loc)
    return f"1234{decimal}56 or 1{group}234{decimal}56"


def parse_amount(text: str, locale: str | None = None) -> Decimal:
    """Read a typed number as the locale writes it, strictly; never reinterpret it.

    ``1,5`` is 1.5 in de-DE and refused in en-US (where it could be 15 or 1.5); digits other
    than ASCII 0-9 (``١٠٠``, ``１００``) and exponents are refused, not converted.
    """
    loc = babel_locale(_locale_code(locale))
    decimal, group = get_decimal_symbol(loc), get_group_symbol(loc)
    raw = str(text).strip()
    if group in _SPACES:
        raw = "".join(group if ch in _SPACES else ch for ch in raw)
    body = raw[1:] if raw[:1] == "-" else raw
    refusal = AmountError(
        f"Enter a number as {loc.get_display_name('en')} writes it, "
        f"like {number_example(str(loc))}."
    )
    if not body or not set(body) <= _ASCII_DIGITS | {decimal, group}:
        raise refusal
    try:
        return parse_decimal(raw, locale=loc, strict=True)
    except (NumberFormatError, InvalidOperation, ValueError) as exc:
        suggestions = getattr(exc, "suggestions", None)
        if suggestions:
            shown = " or ".join(f"“{s}”" for s in suggestions)
            raise AmountError(f"{refusal} Did you mean {shown}?") from exc
        raise refusal from exc
