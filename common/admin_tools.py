"""Small building blocks shared by the apps' admin modules (the support console)."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

SUPPORT_PERMISSION = "accounts.run_support_actions"


def count_of(queryset, *, fk: str):
    """A per-row count as a correlated subquery: computed for the rows of the page only.

    A JOIN + GROUP BY annotation aggregates every matching row before the page is cut; on
    tables of millions that is the slow part of a changelist.
    """
    counted = (
        queryset.filter(**{fk: OuterRef("pk")})
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted), 0)


def can_run_support_actions(request) -> bool:
    return request.user.is_active and request.user.has_perm(SUPPORT_PERMISSION)


def admin_url(obj, action: str = "change") -> str:
    """The admin URL of a model instance (``change``) or of its list (``changelist``)."""
    opts = obj._meta
    args = [obj.pk] if action == "change" else []
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=args)
    except NoReverseMatch:
        return ""


def admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "–"
    url = admin_url(obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj)) if url else str(obj)


def business_support_url(business_id: int) -> str:
    return reverse("admin:accounts_business_support", args=[business_id])


def request_trace_link(request_id: str) -> str:
    """The request id as a link to its timeline (every record that carries it)."""
    if not request_id:
        return "–"
    url = reverse("support-search") + "?" + urlencode({"q": request_id})
    return format_html('<a href="{}">{}</a>', url, request_id)


class HistoryAdmin(admin.ModelAdmin):
    """Rows that record what happened: visible to support, never added, edited or deleted here.

    Pruning is the retention jobs' work; changing history would make support answers wrong.
    """

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_support_permission(self, request) -> bool:
        return can_run_support_actions(request)


class HistoryInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def report_action(modeladmin, request, *, done: int, refused: list[str]) -> None:
    """One message for an admin action over several rows: how many done, why others refused."""
    if done:
        modeladmin.message_user(request, f"{done} done.", messages.SUCCESS)
    for reason in refused[:10]:
        modeladmin.message_user(request, reason, messages.WARNING)
    if len(refused) > 10:
        modeladmin.message_user(
            request, f"… and {len(refused) - 10} more refused.", messages.WARNING
        )
