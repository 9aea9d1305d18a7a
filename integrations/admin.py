"""Admin (support console) for the Wix integration's records. Tokens are never shown."""

from django.contrib import admin
from django.db.models import Case, When
from django.db.models import Value as V
from django.utils.html import format_html

from accounts.audit import ActionRefused
from common.admin_tools import (
    HistoryAdmin,
    RecentValuesFilter,
    business_support_url,
    report_action,
)
from integrations import support
from integrations.models import (
    CircuitBreaker,
    IntegrationCall,
    WebhookReceipt,
    WixAccessToken,
    WixContactSync,
    WixUserLink,
)


def _business_link(obj) -> str:
    if obj.business_id is None:
        return "–"
    return format_html('<a href="{}">{}</a>', business_support_url(obj.business_id), obj.business)


@admin.register(IntegrationCall)
class IntegrationCallAdmin(HistoryAdmin):
    list_display = [
        "created_at",
        "api",
        "method",
        "endpoint",
        "status",
        "ok",
        "duration_ms",
        "attempt",
        "error",
        "business_link",
        "request_id",
    ]
    list_select_related = ["business"]
    list_filter = [
        "ok",
        ("api", RecentValuesFilter),
        ("method", RecentValuesFilter),
        "created_at",
    ]
    search_fields = ["=request_id", "=business__instance_id"]
    sortable_by = ["created_at"]
    raw_id_fields = ["business"]

    @admin.display(description="Business")
    def business_link(self, obj) -> str:
        return _business_link(obj)


@admin.register(WixAccessToken)
class WixAccessTokenAdmin(HistoryAdmin):
    # The token itself is excluded from every page and list: support needs only its dates.
    list_display = ["instance_id", "has_token", "expires_at", "refreshed_at"]
    fields = ["instance_id", "expires_at", "refreshed_at"]
    ordering = ["-pk"]
    search_fields = ["=instance_id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("access_token")
            .annotate(_has_token=Case(When(access_token="", then=V(False)), default=V(True)))
        )

    @admin.display(description="Has a token", boolean=True)
    def has_token(self, obj) -> bool:
        return obj._has_token


@admin.register(CircuitBreaker)
class CircuitBreakerAdmin(HistoryAdmin):
    list_display = [
        "api",
        "state",
        "consecutive_failures",
        "opened_at",
        "retry_at",
        "last_error",
        "updated_at",
    ]
    list_filter = ["state"]
    ordering = ["api"]
    actions = ["reset"]

    @admin.action(description="Close (reset) the selected circuits", permissions=["support"])
    def reset(self, request, queryset) -> None:
        done, refused = 0, []
        for circuit in queryset:
            try:
                support.support_breaker_reset(circuit=circuit, acting_user=request.user)
                done += 1
            except ActionRefused as exc:
                refused.append(f"{circuit.api}: {exc.message}")
        report_action(self, request, done=done, refused=refused)


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(HistoryAdmin):
    list_display = [
        "received_at",
        "event_type",
        "status",
        "verified",
        "rejected_reason",
        "instance_id",
        "business_link",
        "origin",
        "deliveries",
        "attempt_count",
        "next_attempt_at",
        "last_error",
        "request_id",
    ]
    list_select_related = ["business"]
    list_filter = [
        "status",
        "verified",
        ("event_type", RecentValuesFilter),
        ("rejected_reason", RecentValuesFilter),
        "received_at",
    ]
    search_fields = ["=instance_id", "=request_id"]
    sortable_by = ["received_at"]
    raw_id_fields = ["business"]
    actions = ["replay"]

    @admin.display(description="Business")
    def business_link(self, obj) -> str:
        return _business_link(obj)

    @admin.display(description="Copied from")
    def origin(self, obj) -> str:
        # AppInstalled on a duplicated site names the app's instance on the original site.
        return obj.origin_instance_id or "–"

    @admin.action(
        description="Replay (process again) the selected webhooks", permissions=["support"]
    )
    def replay(self, request, queryset) -> None:
        done, refused = 0, []
        for receipt in queryset:
            try:
                support.support_webhook_replay(receipt=receipt, acting_user=request.user)
                done += 1
            except ActionRefused as exc:
                refused.append(f"Receipt #{receipt.pk}: {exc.message}")
        report_action(self, request, done=done, refused=refused)


@admin.register(WixUserLink)
class WixUserLinkAdmin(HistoryAdmin):
    list_display = ["wix_user_id", "user", "created_at"]
    list_select_related = ["user"]
    ordering = ["-pk"]
    search_fields = ["=wix_user_id", "=user__email"]
    raw_id_fields = ["user"]


@admin.register(WixContactSync)
class WixContactSyncAdmin(HistoryAdmin):
    list_display = [
        "client",
        "status",
        "reason",
        "attempt_count",
        "last_error",
        "next_attempt_at",
        "business_link",
        "updated_at",
    ]
    list_select_related = ["business", "client"]
    list_filter = ["status", ("reason", RecentValuesFilter)]
    ordering = ["-pk"]
    # Request ids and Wix contact ids are not indexed here: a row is found by its client.
    search_fields = ["=client__email", "=client", "=business__instance_id"]
    raw_id_fields = ["business", "client"]

    @admin.display(description="Business")
    def business_link(self, obj) -> str:
        return _business_link(obj)
