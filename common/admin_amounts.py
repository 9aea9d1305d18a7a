"""Stored amounts in the admin as each business writes them (``common.money``: Babel's CLDR
data), in the row's currency: ``1.250,50 €`` for a German business, never ``1250.5000``.

Django shows a ``DecimalField`` as stored, with its four decimal places and no currency; an
admin lists the amount fields it shows in ``amount_fields`` and they are written with
``format_money`` instead, on the change page and in the list, where the field would stand.
"""

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.utils.text import capfirst

from common.money import format_money

SUFFIX = "_as_written"


def _swapped(names, amount_fields: tuple[str, ...]) -> list:
    """``names`` with each amount field in its written form, each name once."""
    swapped = [f"{name}{SUFFIX}" if name in amount_fields else name for name in names]
    return list(dict.fromkeys(swapped))


class AmountsAdminMixin:
    """For read-only admins (a written amount is no longer an input): ``amount_fields`` are
    shown by ``format_money``, in ``amount_currency(row)`` as ``amount_locale(row)`` writes it.

    The defaults read the row's own ``currency`` and its ``business``'s locale; an admin whose
    rows hold them elsewhere overrides both, and selects what they follow for its list.
    """

    amount_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.amount_fields:
            setattr(self, f"{name}{SUFFIX}", self._written(name))

    def amount_currency(self, obj) -> str:
        return obj.currency

    def amount_locale(self, obj) -> str:
        return obj.business.locale

    def _written(self, name: str) -> Callable[[Any], str]:
        label = capfirst(self.model._meta.get_field(name).verbose_name)  # type: ignore[attr-defined]

        @admin.display(description=label)
        def written(obj) -> str:
            amount = getattr(obj, name)
            return format_money(amount, self.amount_currency(obj), self.amount_locale(obj))

        return written

    def get_fields(self, request, obj=None):
        return _swapped(super().get_fields(request, obj), self.amount_fields)

    def get_readonly_fields(self, request, obj=None):
        shown = [f"{name}{SUFFIX}" for name in self.amount_fields]
        return [*super().get_readonly_fields(request, obj), *shown]

    def get_list_display(self, request):
        return _swapped(super().get_list_display(request), self.amount_fields)
