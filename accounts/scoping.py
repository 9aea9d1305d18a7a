"""Tenant scoping: every row that belongs to a business is read through these helpers.

A foreign id answers 404 (never 403) because a scoped lookup simply does not find it.
"""

from typing import TYPE_CHECKING, TypeVar

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from accounts.models import Business

M = TypeVar("M", bound=models.Model)


class BusinessOwned(models.Model):
    """Abstract base for every row that belongs to one business."""

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


def scoped(
    model_or_queryset: type[M] | models.QuerySet[M], business: "Business"
) -> models.QuerySet[M]:
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, models.QuerySet)
        else model_or_queryset._default_manager.all()
    )
    if business is None or business.pk is None:
        return queryset.none()
    return queryset.filter(business_id=business.pk)


def get_for_business_or_404(
    model_or_queryset: type[M] | models.QuerySet[M], business: "Business", **lookup: object
) -> M:
    try:
        return scoped(model_or_queryset, business).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("Not found") from None
