from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from accounts.models import ApiKey, Business, Membership, StaffAction, User
from common.admin_tools import HistoryAdmin, RecentValuesFilter, ScaleAdminMixin, count_of

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _MemberCount(TypedDict):
    """What ``BusinessAdmin.get_queryset`` annotates on each row."""

    _member_count: int


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(User)
class UserAdmin(ScaleAdminMixin, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    # A prefix of the address, through the lower(email) unique index.
    search_fields = ["^email", "=id"]
    sortable_by = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        # Not even the masked password hash for staff who only support.
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "password"]})
            for name, opts in fieldsets
        ]


@admin.register(Business)
class BusinessAdmin(ScaleAdminMixin, admin.ModelAdmin):
    # Django 6 makes https the default scheme; say so now (and silence 5.2's warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = [
        "__str__",
        "instance_id",
        "owner_email",
        "plan",
        "status",
        "installed_at",
        "member_count",
    ]
    list_filter = ["status", "plan"]
    ordering = ["-pk"]
    # Prefixes of the site name and URL through lower() indexes; exact ids and emails.
    search_fields = ["=instance_id", "=id", "=owner_email", "^site_name", "^site_url"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        # A subquery per row of the page, not a GROUP BY over every business.
        members = count_of(Membership.objects.all(), fk="business")
        return super().get_queryset(request).annotate(_member_count=members)

    @admin.display(description="Members")
    def member_count(self, obj: "WithAnnotations[Business, _MemberCount]") -> int:
        return obj._member_count


@admin.register(ApiKey)
class ApiKeyAdmin(ScaleAdminMixin, admin.ModelAdmin):
    # The hash is never shown: it is useless to support and a secret to everyone else.
    list_display = ["name", "prefix", "business", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["business"]
    list_filter = ["revoked_at"]
    ordering = ["-pk"]
    search_fields = ["=prefix", "=business__instance_id"]
    fields = readonly_fields = (
        "business",
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )

    def has_add_permission(self, request) -> bool:
        return False


# --- support console (issue 7) ---------------------------------------------------------------
@admin.register(Membership)
class MembershipAdmin(ScaleAdminMixin, admin.ModelAdmin):
    list_display = ["user", "business", "role", "created_at"]
    list_select_related = ["user", "business"]
    list_filter = ["role"]
    ordering = ["-pk"]
    search_fields = ["=user__email", "=business__instance_id"]
    autocomplete_fields = ["user", "business"]


@admin.register(StaffAction)
class StaffActionAdmin(HistoryAdmin):
    """The audit log: written by ``accounts.audit.audited`` only, never edited."""

    list_display = [
        "created_at",
        "actor_email",
        "action",
        "target_link",
        "outcome",
        "message",
        "business",
        "request_id",
    ]
    list_select_related = ["business", "target_type"]
    list_filter = ["outcome", ("action", RecentValuesFilter), "created_at"]
    # Newest first by id (ids grow with time): the primary key serves it exactly.
    ordering = ["-pk"]
    search_fields = ["=actor_email", "=request_id", "=business__instance_id"]
    raw_id_fields = ["actor", "business"]

    @admin.display(description="Target")
    def target_link(self, obj: StaffAction) -> str:
        if obj.target_type is None or not obj.target_id:
            return obj.target_repr or "–"
        try:
            url = reverse(
                f"admin:{obj.target_type.app_label}_{obj.target_type.model}_change",
                args=[obj.target_id],
            )
        except NoReverseMatch:
            return obj.target_repr
        return format_html('<a href="{}">{}</a>', url, obj.target_repr or obj.target_id)
