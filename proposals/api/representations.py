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
from proposals import payments, selectors
from proposals.models import Acceptance, Proposal


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


def proposal_summary(row: dict, tz: tzinfo | None = None) -> dict:
    """One row of the proposal list (``ProposalSummarySerializer``) from an API row.

    ``row`` has the keys of ``selectors.API_PROPOSAL_VALUES``.
    """
    tz = tz or timezone.get_current_timezone()
    return {
        "id": row["id"],
        "number": Proposal.format_number(row["number"]),
        "title": row["title"],
        "status": row["status"],
        "client": {
            "id": row["client_id"],
            "name": row["client__name"],
            "email": row["client__email"],
            "company": row["client__company"],
        },
        "currency": row["currency"],
        "total": str(quantize(row["total"], row["currency"])),
        "valid_until": _date(row["valid_until"]),
        "revision": row["revision"],
        "has_unsent_changes": row["has_unsent_changes"],
        "current_version": row["current_version__number"],
        "created_at": _datetime(row["created_at"], tz),
        "updated_at": _datetime(row["updated_at"], tz),
        "sent_at": _datetime(row["sent_at"], tz),
        "viewed_at": _datetime(row["viewed_at"], tz),
        "answered_at": _datetime(row["answered_at"], tz),
        "expired_at": _datetime(row["expired_at"], tz),
        "withdrawn_at": _datetime(row["withdrawn_at"], tz),
    }


def proposal_detail(
    row: dict, *, sections: list[dict], totals: Totals, acceptance: Acceptance | None = None
) -> dict:
    """The proposal (``ProposalSerializer``) from an API detail row and its content.

    ``row`` has the keys of ``selectors.API_PROPOSAL_DETAIL_VALUES``; ``sections`` come from
    ``selectors.proposal_content_rows``. Once accepted (``acceptance``), ``totals`` are those
    of what the client signed, optional items chosen included, as ``total`` is.
    """
    tz = timezone.get_current_timezone()
    data = proposal_summary(row, tz)
    accepted_by = None
    if acceptance is not None:
        accepted = selectors.accepted_content(acceptance=acceptance)
        totals = accepted.totals
        accepted_by = {
            "signed_name": acceptance.signed_name,
            "accepted_at": _datetime(acceptance.accepted_at, tz),
            "version": acceptance.version.number,
            "total": f"{quantize(acceptance.total, totals.currency):f}",
            # The optional items the client ticked, as line items of the accepted version.
            "selected_items": accepted.chosen_ids(),
            # Each payment with its invoice (in the business's Wix site) once there is one.
            "payment_schedule": payments.with_progress(acceptance),
        }
    data["intro"] = row["intro"]
    data["terms"] = row["terms"]
    data["decline_reason"] = row["decline_reason"]
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
                    "source": item["source"],
                }
                for item in section["items"]
            ],
        }
        for section in sections
    ]
    data["payment_schedule"] = row["payment_schedule"]
    data["totals"] = {
        "currency": totals.currency,
        "subtotal": f"{totals.subtotal:f}",
        "discount": f"{totals.discount:f}",
        "tax": f"{totals.tax:f}",
        "total": f"{totals.total:f}",
    }
    data["acceptance"] = accepted_by
    return data
