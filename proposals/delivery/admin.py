"""Admin (support console) for email deliveries: each email, its attempts and events, and the
addresses a business no longer emails. History, read-only; support retries and lifts through
audited actions. Registered by ``proposals/admin.py`` (autodiscovery reads only that module).
"""

from django.contrib import admin

from accounts.audit import act_on_each
from common.admin_tools import (
    BusinessColumnMixin,
    HistoryAdmin,
    HistoryInline,
    admin_link,
    request_trace_link,
)
from proposals import support
from proposals.delivery import suppressions as delivery_suppressions
from proposals.models import Delivery, DeliveryAttempt, DeliveryEvent, Suppression


class AttemptInline(HistoryInline):
    model = DeliveryAttempt
    fields = readonly_fields = (
        "number",
        "outcome",
        "started_at",
        "duration_ms",
        "smtp_code",
        "error",
        "worker",
        "request_id",
    )
    show_change_link = False


class EventInline(HistoryInline):
    """What the email service reported after it accepted the message (its webhooks)."""

    model = DeliveryEvent
    fields = readonly_fields = (
        "received_at",
        "event_type",
        "reject_reason",
        "description",
        "mta_response",
        "esp",
    )
    ordering = ["-received_at"]
    show_change_link = False


@admin.register(Delivery)
class DeliveryAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = [
        "id",
        "kind",
        "recipient",
        "state",
        "attempt_count",
        "short_error",
        "proposal",
        "business_link",
        "created_at",
        "updated_at",
    ]
    list_select_related = ["business", "proposal"]
    list_filter = ["state", "kind", "created_at", "updated_at"]
    search_fields = ["=recipient", "=id", "=proposal", "=request_id", "=business__instance_id"]
    sortable_by = ["id", "created_at"]
    raw_id_fields = ["proposal", "version", "retried_by"]
    exclude = ["business", "request_id"]
    readonly_fields = ["business_link", "request_trace"]
    inlines = [AttemptInline, EventInline]
    actions = ["retry"]

    @admin.display(description="Request id")
    def request_trace(self, obj: Delivery) -> str:
        return request_trace_link(obj.request_id)

    @admin.display(description="Last error")
    def short_error(self, obj: Delivery) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry the selected failed deliveries", permissions=["support"])
    def retry(self, request, queryset) -> None:
        act_on_each(
            self,
            request,
            queryset,
            lambda delivery: support.support_delivery_retry(
                delivery=delivery, acting_user=request.user
            ),
            name=lambda delivery: f"Delivery #{delivery.pk}",
        )


@admin.register(Suppression)
class SuppressionAdmin(BusinessColumnMixin, HistoryAdmin):
    """Addresses a business no longer emails (hard bounce, complaint); support lifts them."""

    list_display = [
        "address",
        "reason",
        "business_link",
        "created_at",
        "lifted_at",
        "lifted_by",
        "detail",
    ]
    list_select_related = ["business", "lifted_by"]
    list_filter = ["reason", "created_at"]
    search_fields = ["=address", "=business__instance_id", "=delivery"]
    sortable_by = ["created_at"]
    raw_id_fields = ["delivery", "lifted_by"]
    exclude = ["business"]
    readonly_fields = ["business_link"]
    actions = ["lift"]

    @admin.action(
        description="Lift the selected suppressions (email again)", permissions=["support"]
    )
    def lift(self, request, queryset) -> None:
        act_on_each(
            self,
            request,
            queryset.select_related("business"),
            lambda suppression: delivery_suppressions.suppression_lift(
                suppression=suppression, acting_user=request.user, note="lifted in the admin"
            ),
            name=lambda suppression: suppression.address,
        )


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(HistoryAdmin):
    list_display = [
        "delivery_link",
        "number",
        "outcome",
        "started_at",
        "duration_ms",
        "smtp_code",
        "error",
        "request_id",
    ]
    list_select_related = ["delivery"]
    list_filter = ["outcome", "started_at"]
    # Newest deliveries first, through the (delivery, number) unique index.
    # "-delivery_id", not "-delivery": ordering by the relation sorts by Delivery's own
    # ordering through a join over every delivery.
    ordering = ["-delivery_id", "-number"]
    search_fields = ["=request_id", "=delivery", "=delivery__recipient"]
    raw_id_fields = ["delivery"]

    @admin.display(description="Delivery")
    def delivery_link(self, obj: DeliveryAttempt) -> str:
        return admin_link(obj.delivery, f"#{obj.delivery_id}")
