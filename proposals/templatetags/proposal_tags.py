"""Template helpers for proposals: money, rich text, accessible form fields."""

import functools
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from common.html import sanitize_rich_text
from common.money import Totals, format_money, format_number, minor_units, number_symbols
from proposals import branding, catalog, payments, rules, schedule

register = template.Library()

# The inputs a template writes by hand (not from a form field), by what they take: their
# maxlength is the limit the view or service checks.
INPUT_LIMITS = {
    "name": rules.MAX_NAME,
    "search": rules.MAX_SEARCH,
    "message": rules.MAX_MESSAGE,
    "catalog_search": catalog.MAX_QUERY,
}


@register.simple_tag
def input_limit(what: str) -> int:
    """``maxlength="{% input_limit 'search' %}"``: an unknown name fails the page's render."""
    return INPUT_LIMITS[what]


@register.filter
def money(amount: object, currency: str) -> str:
    """``1234.5|money:"EUR"`` → ``1.234,50 €`` (de-DE), ``€1,234.50`` (en-US).

    In the current locale (``common.money.use_locale``: the business's), with the currency's
    own minor units; "" when the amount is no number.
    """
    return format_money(amount, currency)


@register.inclusion_tag("proposals/_discount_line.html")
def discount_line(totals: Totals | None = None, live: bool = False) -> dict:
    """The "Discounts included: …" note under a total, only when ``totals.has_discount``.

    Every page with a total shows it through this tag (client page, accepted copy, detail
    page, editor estimate). ``live``: a script recomputes the total in the page (public.js,
    editor.js), so the note is there but hidden, for the script to show when a discount counts.
    """
    return {"totals": totals, "shown": totals is not None and totals.has_discount, "live": live}


@register.simple_tag
def number_attrs() -> str:
    """``data-*`` attributes for the editor's estimate: the current locale's number marks."""
    symbols = number_symbols()
    return format_html(
        'data-locale="{}" data-decimal="{}" data-group="{}" data-minor-units="{}"',
        symbols["tag"],
        symbols["decimal"],
        symbols["group"],
        symbols["minor_units"],
    )


@register.filter
def rich_text(html: str) -> str:
    """Sanitised again at render time: stored HTML is already clean, this is the second lock."""
    return mark_safe(sanitize_rich_text(html or ""))  # noqa: S308 (sanitised just above)


_LIST_ROW = (
    '<tr><td><a href="{url}">{number}</a></td>'
    '<td><a href="{url}">{title}</a>{unsent}</td>'
    "<td>{client_name}{client_company}</td>"
    '<td><span class="badge status-{status}">{status_label}</span>{payment_line}</td>'
    '<td class="num">{total}</td>'
    '<td><time datetime="{created_iso}">{created}</time></td>'
    "<td>{sent}</td><td>{viewed}</td></tr>\n"
)
_NEVER = mark_safe('<span class="muted" aria-label="not yet">—</span>')
_UNSENT_BADGE = mark_safe(' <span class="badge">Unsent changes</span>')


@register.simple_tag
def proposal_rows(rows: list[dict]) -> SafeString:
    """The dashboard list's table rows (``_list_rows`` in the view makes their strings).

    Written here rather than as a 25-row ``{% for %}``: the template engine's per-variable
    cost, times 11 per row, was the largest part of the busiest page. Every value is escaped
    by ``format_html``, as the template would.
    """
    return format_html_join(
        "",
        _LIST_ROW,
        (
            {
                **row,
                "unsent": _UNSENT_BADGE if row["unsent"] else "",
                "client_company": _muted_line(row["client_company"]),
                "payment_line": _muted_line(row.get("payment_line", "")),
                "sent": _time(row["sent_iso"], row["sent"]),
                "viewed": _time(row["viewed_iso"], row["viewed"]),
            }
            for row in rows
        ),
    )


def _time(iso: str, text: str) -> str:
    return format_html('<time datetime="{}">{}</time>', iso, text) if iso else _NEVER


def _muted_line(text: str) -> str:
    return format_html('<br><span class="muted">{}</span>', text) if text else ""


@register.inclusion_tag("proposals/_field.html")
def field(bound_field, label: str | None = None, extra_class: str = "", hide_label: bool = False):
    """Label, input, help and errors wired with aria-describedby / aria-invalid."""
    describedby = []
    if bound_field.help_text:
        describedby.append(f"{bound_field.auto_id}-help")
    if bound_field.errors:
        describedby.append(f"{bound_field.auto_id}-error")
    attrs: dict[str, str | bool] = {}
    if describedby:
        attrs["aria-describedby"] = " ".join(describedby)
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
    if bound_field.field.required and not hide_label:
        attrs["required"] = True
    return {
        "field": bound_field,
        "widget": bound_field.as_widget(attrs=attrs),
        "label": label or bound_field.label,
        "is_checkbox": bound_field.widget_type == "checkbox",
        "is_hidden": bound_field.is_hidden,
        "extra_class": extra_class,
        "hide_label": hide_label,
    }


@register.simple_tag
def fixed_url(name: str) -> str:
    """``{% url name %}`` for a URL without arguments, reversed once per process.

    The dashboard's menu and page links are the same on every page, and ``reverse`` walks the
    URL patterns each time; the answer only depends on the name, the URLconf and the script
    prefix, which are the cache key.
    """
    return _reversed(name, get_urlconf() or settings.ROOT_URLCONF, get_script_prefix())


@functools.lru_cache(maxsize=256)
def _reversed(name: str, urlconf: str, prefix: str) -> str:
    return reverse(name, urlconf=urlconf)


@register.simple_tag(takes_context=True)
def nav_section(context) -> str:
    """Which main-menu entry the current page belongs to (for aria-current)."""
    match = getattr(context.get("request"), "resolver_match", None)
    name = match.url_name if match else ""
    for prefix, section in (
        ("client", "clients"),
        ("template", "templates"),
        ("settings", "settings"),
        ("api_key", "api_keys"),
    ):
        if name.startswith(prefix):
            return section
    return "proposals"


@register.filter
def key_label(key: str) -> str:
    """``version_number`` → ``Version number`` (timeline details)."""
    return str(key).replace("_", " ").capitalize()


@register.filter
def logo_url(name: str) -> str:
    """A stored logo's address (proposals.branding), "" without one."""
    return branding.logo_url(name or "")


@register.filter
def minor_digits(currency: str) -> int:
    return minor_units(currency)


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}\Z")


@register.filter
def css_color(value: str, default: str = "#116dff") -> str:
    """Only ``#rrggbb`` reaches a style sheet, whatever is stored."""
    return value if isinstance(value, str) and _COLOR.match(value) else default


@register.filter
def plain_number(value: object) -> str:
    """``1.000`` → ``1``, ``10.50`` → ``10.5`` (quantities and percentages, never 1E+1)."""
    return _plain(value)


def _plain(value: object) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return "" if value is None else str(value)
    if not number.is_finite():
        return str(value)
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def iso_date(value: str):
    """A snapshot's ISO date string as a date (for the ``date`` filter); as-is if malformed."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return value


@register.inclusion_tag("public/_schedule.html")
def payment_schedule(
    source, totals: Totals | None = None, acceptance=None, level: int = 2, invoices: bool = False
) -> dict:
    """The payment schedule as the client reads it: a table of parts with their amounts.

    ``source`` is a version's snapshot (the client's page) or a proposal (its working copy, on
    the dashboard). With ``acceptance``: the parts agreed (its resolved amounts and due days).
    Otherwise the schedule for ``totals`` (the options shown ticked), due dates as their rules
    say ("14 days after acceptance"). Nothing when there is no schedule. ``invoices`` (the
    business's own page): each accepted payment with its invoice (number, sent, paid).
    """
    if isinstance(source, dict):
        currency, parts = source.get("currency", ""), source.get("payment_schedule") or []
    else:
        currency, parts = source.currency, source.payment_schedule or []
    rows = []
    if acceptance is not None:
        parts_agreed = (
            payments.with_progress(acceptance) if invoices else acceptance.payment_schedule or []
        )
        for part in parts_agreed:
            rows.append({**part, "share": _share(part), "due_day": iso_date(part["due_date"])})
    elif totals is not None:
        resolved = schedule.resolve_schedule(
            parts, total=totals.total, currency=totals.currency, accepted_on=date.today()
        )
        for part, payment in zip(parts, resolved, strict=True):
            row = {**part, "amount": payment.amount, "share": _share(part)}
            if part["due"] == schedule.ON_DATE:
                row["due_day"] = iso_date(part["due_date"])
            rows.append(row)
    return {
        "rows": rows,
        "currency": currency,
        "accepted": acceptance is not None,
        "level": level,
        "invoices": invoices and acceptance is not None,
    }


INVOICE_WORDS = {
    payments.InvoiceStatus.SCHEDULED: "To be created",
    payments.InvoiceStatus.CREATED: "Created, not sent yet",
    payments.InvoiceStatus.SENT: "Sent",
}
# Unpaid goes without saying; any other state in its own words ("partially paid").
PAYMENT_WORDS = {
    state: "" if state == payments.PaymentState.UNPAID else label.lower()
    for state, label in payments.PaymentState.choices
}


@register.filter
def invoice_words(invoice: dict | None) -> str:
    """A payment's invoice as the business reads it: "INV-0003 · Sent · paid"."""
    if not invoice:
        return "No invoice yet"
    if invoice["status"] == payments.InvoiceStatus.FAILED:
        return f"Failed: {invoice['reason']}"
    words = [invoice["number"], INVOICE_WORDS[invoice["status"]], PAYMENT_WORDS[invoice["payment"]]]
    return " · ".join(word for word in words if word)


def _share(part: dict) -> str:
    if part["amount_type"] == schedule.PERCENT:
        return f"{format_number(Decimal(part.get('percent') or part['value']))}%"
    return "Balance" if part["amount_type"] == schedule.BALANCE else "Fixed amount"
