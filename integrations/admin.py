"""Admin (support console) for the Wix integration's records. Tokens are never shown."""

from django.contrib import admin
from django.db.models import Case, When
from django.db.models import Value as V

from accounts.audit import act_on_each
from common.admin_amounts import AmountsAdminMixin
from common.admin_tools import BusinessColumnMixin, HistoryAdmin, RecentValuesFilter
from integrations import support
from integrations.models import (
    CircuitBreaker,
    IntegrationCall,
    WebhookReceipt,
    WixAccessToken,
    WixContactSync,
    WixInvoice,
    WixUserLink,
)


@admin.register(IntegrationCall)
class IntegrationCallAdmin(BusinessColumnMixin, HistoryAdmin):
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
        act_on_each(
            self,
            request,
            queryset,
            lambda circuit: support.support_breaker_reset(
                circuit=circuit, acting_user=request.user
            ),
            name=lambda circuit: circuit.api,
        )


@admin.register(WebhookReceipt)
class WebhookReceiptAdmin(BusinessColumnMixin, HistoryAdmin):
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

    @admin.display(description="Copied from")
    def origin(self, obj) -> str:
        # AppInstalled on a duplicated site names the app's instance on the original site.
        return obj.origin_instance_id or "–"

    @admin.action(
        description="Replay (process again) the selected webhooks", permissions=["support"]
    )
    def replay(self, request, queryset) -> None:
        act_on_each(
            self,
            request,
            queryset,
            lambda receipt: support.support_webhook_replay(
                receipt=receipt, acting_user=request.user
            ),
            name=lambda receipt: f"Receipt #{receipt.pk}",
        )


@admin.register(WixUserLink)
class WixUserLinkAdmin(HistoryAdmin):
    list_display = ["wix_user_id", "user", "created_at"]
    list_select_related = ["user"]
    ordering = ["-pk"]
    search_fields = ["=wix_user_id", "=user__email"]
    raw_id_fields = ["user"]


@admin.register(WixContactSync)
class WixContactSyncAdmin(BusinessColumnMixin, HistoryAdmin):
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


@admin.register(WixInvoice)
class WixInvoiceAdmin(AmountsAdminMixin, BusinessColumnMixin, HistoryAdmin):
    """A proposal's scheduled payments as Wix invoices: where each one is, and why it failed."""

    list_display = [
        "proposal",
        "position",
        "label",
        "amount",
        "due_at",
        "state",
        "step",
        "payment",
        "number",
        "attempt_count",
        "last_error",
        "business_link",
    ]
    list_select_related = ["business", "proposal"]
    list_filter = ["state", "step", "payment"]
    ordering = ["-pk"]
    search_fields = ["=proposal", "=wix_invoice_id", "=business__instance_id"]
    raw_id_fields = ["business", "proposal", "acceptance"]
    readonly_fields = ["reference", "create_attempted_at", "sent_at", "wix_invoice_id"]
    amount_fields = ("amount", "paid_amount")
    actions = ["retry"]

    @admin.action(description="Try the selected failed invoices again", permissions=["support"])
    def retry(self, request, queryset) -> None:
        act_on_each(
            self,
            request,
            queryset,
            lambda invoice: support.support_invoice_retry(
                invoice=invoice, acting_user=request.user
            ),
            name=lambda invoice: f"Invoice #{invoice.pk}",
        )
