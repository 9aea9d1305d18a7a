from urllib.parse import urlencode

from django import template
from django.template.defaultfilters import truncatechars
from django.urls import reverse
from django.utils.html import format_html

from console.selectors import COUNT_CAP, incidents_overview
from proposals.models import Delivery

register = template.Library()


@register.filter
def capped(count: int | None) -> str:
    """A count that stopped at the cap reads "10000+", not as if it were exact."""
    if count is None:
        return "–"
    return f"{COUNT_CAP}+" if count >= COUNT_CAP else str(count)


@register.filter
def clipped(value: object, length: int) -> str:
    """``truncatechars`` that keeps the whole value a hover away: the cut text carries it in
    its ``title`` (support reads error messages and addresses whole, not just their start)."""
    text = "" if value is None else str(value)
    short = truncatechars(text, length)
    return format_html('<span title="{}">{}</span>', text, short) if short != text else text


@register.inclusion_tag("console/_incidents.html", takes_context=True)
def incidents(context) -> dict:
    """The incidents overview on the admin index, each number linking to its filtered list."""
    overview = incidents_overview()
    rows = []
    for label, counts, changelist, condition, field in overview.pop("rows"):
        base = reverse(f"admin:{changelist}_changelist") + "?" + condition + "&"
        rows.append(
            {
                "label": label,
                "hour": counts["hour"],
                "day": counts["day"],
                "hour_url": base + urlencode({f"{field}__gte": overview["hour"].isoformat()}),
                "day_url": base + urlencode({f"{field}__gte": overview["day"].isoformat()}),
            }
        )
    delivery_list = reverse("admin:proposals_delivery_changelist")

    def deliveries_in(states, **more) -> str:
        return delivery_list + "?" + urlencode({"state__in": ",".join(states), **more}, safe=",")

    stuck_before = overview.pop("stuck_before").isoformat()
    return {
        **overview,
        "rows": rows,
        "stuck_url": deliveries_in(Delivery.STUCK_STATES, updated_at__lt=stuck_before),
        "waiting_url": deliveries_in(Delivery.WAITING_STATES),
        "open_url": deliveries_in(Delivery.OPEN_STATES),
        "request": context.get("request"),
        "breaker_list": reverse("admin:integrations_circuitbreaker_changelist"),
    }
