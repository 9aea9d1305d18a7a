"""Admin (support console) for proposals; their email deliveries are in ``delivery/admin.py``.

Everything here is read-only: proposal content belongs to the business (edited in its
dashboard, through the services) and deliveries, attempts, activity, versions and acceptances
are history. Support acts through the audited actions of ``proposals.support``.
"""

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.utils.html import format_html

from accounts.audit import act_on_each
from common.admin_amounts import AmountsAdminMixin
from common.admin_tools import (
    BusinessColumnMixin,
    HistoryAdmin,
    HistoryInline,
    RecentValuesFilter,
    count_of,
)
from common.money import format_money
from proposals import selectors, support
from proposals.delivery import admin as delivery_admin  # noqa: F401  (registers the deliveries')
from proposals.models import (
    Acceptance,
    Activity,
    Client,
    Delivery,
    IdempotencyKey,
    LineItem,
    Proposal,
    ProposalPdf,
    ProposalSequence,
    ProposalSettings,
    ProposalTemplate,
    ProposalVersion,
    ProposalView,
    Section,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _FailedCount(TypedDict):
    """What ``ProposalAdmin.get_queryset`` annotates on each row."""

    _failed: int


class _ProposalCount(TypedDict):
    """What ``ClientAdmin.get_queryset`` annotates on each row."""

    _proposals: int


# --- proposals -------------------------------------------------------------------------------
class SectionInline(HistoryInline):
    model = Section
    fields = ["position", "title"]


class VersionInline(HistoryInline):
    model = ProposalVersion
    # The token is the client's key to the proposal page: never shown (search finds it).
    fields = readonly_fields = (
        "number",
        "recipient_email",
        "sent_at",
        "sent_by",
        "token_revoked_at",
    )
    ordering = ["-number"]


class DeliveryInline(HistoryInline):
    model = Delivery
    fk_name = "proposal"
    fields = readonly_fields = (
        "kind",
        "recipient",
        "state",
        "attempt_count",
        "last_error",
        "created_at",
    )
    ordering = ["-created_at"]


@admin.register(Proposal)
class ProposalAdmin(AmountsAdminMixin, BusinessColumnMixin, HistoryAdmin):
    amount_fields = ("total",)
    list_display = [
        "display_number",
        "title",
        "business_link",
        "client",
        "status",
        "total",
        "sent_at",
        "failed_deliveries",
        "created_at",
    ]
    list_select_related = ["business", "client"]
    # No "sent at" filter: no index orders proposals by creation within a sending window.
    list_filter = ["status", "created_at"]
    # Exact, indexed lookups only (millions of rows): "P-0042" or "42" is a number or an id.
    search_fields = ["=number", "=id", "=client__email", "=business__instance_id"]
    sortable_by = ["created_at"]
    readonly_fields = ["business_link", "accepted_choice"]
    raw_id_fields = ["client", "current_version", "created_by"]
    exclude = ["business"]
    inlines = [SectionInline, VersionInline, DeliveryInline]
    actions = ["resend_link"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _failed=count_of(
                    Delivery.objects.filter(state=Delivery.State.FAILED_PERMANENT), fk="proposal"
                )
            )
        )

    @admin.display(description="Number")
    def display_number(self, obj: Proposal) -> str:
        return obj.display_number

    @admin.display(description="Failed emails")
    def failed_deliveries(self, obj: "WithAnnotations[Proposal, _FailedCount]") -> int:
        return obj._failed

    @admin.display(description="Accepted with")
    def accepted_choice(self, obj: Proposal) -> str:
        acceptance = selectors.proposal_acceptance(proposal=obj)
        return _accepted_choice(acceptance) if acceptance else "—"

    @admin.action(description="Resend the proposal link to the client", permissions=["support"])
    def resend_link(self, request, queryset) -> None:
        act_on_each(
            self,
            request,
            queryset.select_related("current_version"),
            lambda proposal: support.support_proposal_resend_link(
                proposal=proposal, acting_user=request.user
            ),
            name=lambda proposal: proposal.display_number,
        )


@admin.register(Client)
class ClientAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = ["name", "email", "company", "business_link", "proposal_count", "created_at"]
    list_select_related = ["business"]
    # Newest first by id: 12,500 clients of one business, millions in all, no name sort.
    ordering = ["-pk"]
    search_fields = ["=email", "=id", "=business__instance_id"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_proposals=count_of(Proposal.objects.all(), fk="client"))
        )

    @admin.display(description="Proposals")
    def proposal_count(self, obj: "WithAnnotations[Client, _ProposalCount]") -> int:
        return obj._proposals


@admin.register(ProposalTemplate)
class ProposalTemplateAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = ["name", "title", "business_link", "updated_at"]
    list_select_related = ["business"]
    ordering = ["-pk"]
    search_fields = ["=id", "=business__instance_id"]


@admin.register(ProposalSettings)
class ProposalSettingsAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = ["business_link", "brand_name", "remind_unopened_after_days", "updated_at"]
    list_select_related = ["business"]
    ordering = ["-pk"]
    search_fields = ["=business__instance_id"]


@admin.register(ProposalSequence)
class ProposalSequenceAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = ["business_link", "last_number"]
    list_select_related = ["business"]
    ordering = ["-pk"]
    search_fields = ["=business__instance_id"]


@admin.register(Section)
class SectionAdmin(HistoryAdmin):
    list_display = ["__str__", "proposal", "position"]
    list_select_related = ["proposal"]
    ordering = ["-pk"]
    search_fields = ["=id", "=proposal"]
    raw_id_fields = ["proposal"]


@admin.register(LineItem)
class LineItemAdmin(AmountsAdminMixin, HistoryAdmin):
    list_display = ["name", "section", "quantity", "unit_price", "optional"]
    list_select_related = ["section__proposal__business"]
    amount_fields = ("unit_price",)
    ordering = ["-pk"]
    search_fields = ["=id", "=section"]
    raw_id_fields = ["section"]

    def amount_currency(self, obj: LineItem) -> str:
        return obj.section.proposal.currency

    def amount_locale(self, obj: LineItem) -> str:
        return obj.section.proposal.business.locale


@admin.register(ProposalVersion)
class ProposalVersionAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = ["__str__", "proposal", "business_link", "recipient_email", "sent_at"]
    list_select_related = ["proposal", "business"]
    ordering = ["-pk"]
    search_fields = ["=recipient_email", "=token", "=proposal", "=business__instance_id"]
    exclude = ["token"]
    raw_id_fields = ["proposal", "sent_by"]


@admin.register(ProposalView)
class ProposalViewAdmin(HistoryAdmin):
    list_display = ["proposal", "version", "viewed_at", "ip"]
    list_select_related = ["proposal", "version"]
    list_filter = ["viewed_at"]
    ordering = ["-pk"]
    search_fields = ["=proposal"]
    raw_id_fields = ["proposal", "version", "business"]


@admin.register(Acceptance)
class AcceptanceAdmin(AmountsAdminMixin, BusinessColumnMixin, HistoryAdmin):
    amount_fields = ("total",)
    list_display = [
        "proposal",
        "business_link",
        "signed_name",
        "email",
        "total",
        "accepted_at",
    ]
    list_select_related = ["proposal", "business"]
    ordering = ["-pk"]
    search_fields = ["=email", "=proposal", "=business__instance_id"]
    raw_id_fields = ["proposal", "version", "business"]

    def amount_currency(self, obj: Acceptance) -> str:
        return obj.proposal.currency

    readonly_fields = ["chosen_items"]

    @admin.display(description="Optional items chosen")
    def chosen_items(self, obj: Acceptance) -> str:
        return _accepted_choice(obj)


def _accepted_choice(acceptance: Acceptance) -> str:
    """The accepted total and the optional items the client chose, from the signed version."""
    content = selectors.accepted_content(acceptance=acceptance)
    chosen = [item["name"] for item in content.chosen_optional]
    return format_html(
        "{} · optional items chosen: {}",
        format_money(content.totals.total, content.totals.currency, acceptance.business.locale),
        ", ".join(chosen) if chosen else "none",
    )


@admin.register(ProposalPdf)
class ProposalPdfAdmin(BusinessColumnMixin, HistoryAdmin):
    """The PDFs rendered (or waiting, or failed: ``last_error`` says why) and their hashes."""

    list_display = [
        "proposal",
        "business_link",
        "version",
        "kind",
        "state",
        "size",
        "render_ms",
        "rendered_at",
    ]
    list_select_related = ["proposal", "version", "business"]
    list_filter = ["state", "kind"]
    ordering = ["-pk"]
    search_fields = ["=proposal", "=sha256", "=business__instance_id"]
    raw_id_fields = ["proposal", "version", "business"]


@admin.register(Activity)
class ActivityAdmin(BusinessColumnMixin, HistoryAdmin):
    list_display = ["created_at", "kind", "proposal", "business_link", "actor_type", "request_id"]
    list_select_related = ["proposal", "business"]
    list_filter = ["kind", "actor_type", "created_at"]
    search_fields = ["=request_id", "=proposal", "=business__instance_id"]
    sortable_by = ["created_at"]
    raw_id_fields = ["proposal", "version", "actor_user", "business"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(BusinessColumnMixin, HistoryAdmin):
    # The stored response may carry client links: support sees that a replay exists, not it.
    list_display = ["created_at", "method", "path", "state", "response_status", "business_link"]
    list_select_related = ["business"]
    list_filter = ["state", ("method", RecentValuesFilter), "created_at"]
    ordering = ["-pk"]
    # Keys are short-lived (pruned after a day); found through their business.
    search_fields = ["=business__instance_id"]
    exclude = ["response_body", "response_headers"]
    raw_id_fields = ["business"]
