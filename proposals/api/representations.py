"""The JSON of the API's busiest reads (proposal list rows and the proposal), as plain dicts.

``ProposalSummarySerializer`` and ``ProposalSerializer`` define these shapes and the OpenAPI
schema; building the same dicts directly skips DRF's per-field machinery (a deep copy of every
field per serializer, one call chain per value), which was most of the API's own CPU per
request. ``tests/api/test_representations.py`` holds both to the same output, field by field.
"""

import decimal
from datetime import date, datetime, tzinfo

from django.utils import timezone

from common.money import Totals, quantize
from proposals.models import Proposal


def _decimal_places(places: int, max_digits: int):
    # As DRF's DecimalField(max_digits, decimal_places) prints a value: quantized, then "{:f}".
    exponent = decimal.Decimal(".1") ** places
    context = decimal.getcontext().copy()
    context.prec = max_digits

    def fmt(value: decimal.Decimal) -> str:
        return f"{value.quantize(exponent, context=context):f}"

    return fmt


_QUANTITY = _decimal_places(3, 12)
_UNIT_PRICE = _decimal_places(4, 14)
_PERCENT = _decimal_places(2, 5)


def _datetime(value: datetime | None, tz: tzinfo) -> str | None:
    # DRF's DateTimeField: in the current time zone, ISO 8601, "Z" for UTC.
    if not value:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def proposal_summary(proposal: Proposal, tz: tzinfo | None = None) -> dict:
    """One row of the proposal list (``ProposalSummarySerializer``)."""
    tz = tz or timezone.get_current_timezone()
    client = proposal.client
    version = proposal.current_version
    return {
        "id": proposal.pk,
        "number": proposal.display_number,
        "title": proposal.title,
        "status": str(proposal.status),
        "client": {
            "id": client.pk,
            "name": client.name,
            "email": client.email,
            "company": client.company,
        },
        "currency": proposal.currency,
        "total": str(quantize(proposal.total, proposal.currency)),
        "valid_until": _date(proposal.valid_until),
        "revision": proposal.revision,
        "has_unsent_changes": proposal.has_unsent_changes,
        "current_version": version.number if version is not None else None,
        "created_at": _datetime(proposal.created_at, tz),
        "updated_at": _datetime(proposal.updated_at, tz),
        "sent_at": _datetime(proposal.sent_at, tz),
        "viewed_at": _datetime(proposal.viewed_at, tz),
        "answered_at": _datetime(proposal.answered_at, tz),
        "expired_at": _datetime(proposal.expired_at, tz),
        "withdrawn_at": _datetime(proposal.withdrawn_at, tz),
    }


def proposal_detail(proposal: Proposal, *, sections: list[dict], totals: Totals) -> dict:
    """The proposal (``ProposalSerializer``); ``sections`` from ``proposal_content_data``."""
    data = proposal_summary(proposal)
    data["intro"] = proposal.intro
    data["terms"] = proposal.terms
    data["decline_reason"] = proposal.decline_reason
    data["sections"] = [
        {
            "title": section["title"],
            "items": [
                {
                    "id": item["id"],
                    "name": item["name"],
                    "description": item["description"],
                    "quantity": _QUANTITY(item["quantity"]),
                    "unit_price": _UNIT_PRICE(item["unit_price"]),
                    "discount_percent": _PERCENT(item["discount_percent"]),
                    "tax_rate": _PERCENT(item["tax_rate"]),
                    "optional": item["optional"],
                    "selected": item["selected"],
                }
                for item in section["items"]
            ],
        }
        for section in sections
    ]
    data["totals"] = {
        "currency": totals.currency,
        "subtotal": f"{totals.subtotal:f}",
        "discount": f"{totals.discount:f}",
        "tax": f"{totals.tax:f}",
        "total": f"{totals.total:f}",
    }
    return data
