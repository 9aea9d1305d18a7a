"""Adds the support page to the business admin (a subclass, so accounts knows nothing of it)."""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.urls import path
from django.utils.html import format_html
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from accounts.admin import BusinessAdmin
from accounts.models import Business
from common.admin_tools import RecentValuesFilter, ScaleAdminMixin
from console import views
from console.links import business_support_url


class SupportBusinessAdmin(BusinessAdmin):
    change_form_template = "console/business_change_form.html"

    def get_list_display(self, request):
        return [*super().get_list_display(request), "support_link"]

    def get_urls(self):
        urls = [
            path(
                "<int:business_id>/support/",
                self.admin_site.admin_view(views.business_support),
                name="accounts_business_support",
            )
        ]
        return urls + super().get_urls()

    @admin.display(description="Support")
    def support_link(self, obj: Business) -> str:
        return format_html('<a href="{}">support page</a>', business_support_url(obj.pk))


admin.site.unregister(Business)
admin.site.register(Business, SupportBusinessAdmin)
# The incidents overview on top of the admin index (the change forms of proposals and
# deliveries get their support buttons from this app's templates/admin/proposals/).
admin.site.index_template = "console/admin_index.html"


# --- django-q2's and django.contrib.auth's own models ------------------------------------------
# Their admin classes, made safe at scale like every other list here (no COUNT, no DISTINCT over
# the table, no substring search on unindexed columns). Tasks are found by id.
class ScaledTaskAdmin(ScaleAdminMixin, q_admin.TaskAdmin):
    list_filter = [("group", RecentValuesFilter), ("cluster", RecentValuesFilter)]
    search_fields = ["=id"]
    sortable_by = ["stopped"]


class ScaledFailAdmin(ScaleAdminMixin, q_admin.FailAdmin):
    list_filter = [("group", RecentValuesFilter), ("cluster", RecentValuesFilter)]
    search_fields = ["=id"]
    sortable_by = ["stopped"]


class ScaledScheduleAdmin(ScaleAdminMixin, q_admin.ScheduleAdmin):
    list_filter = ["next_run", "schedule_type", ("cluster", RecentValuesFilter)]
    search_fields = ["=name", "=func"]


class ScaledQueueAdmin(ScaleAdminMixin, q_admin.QueueAdmin):
    list_filter = [("key", RecentValuesFilter)]


class ScaledGroupAdmin(ScaleAdminMixin, GroupAdmin):
    search_fields = ["^name"]
    sortable_by = ["name"]


for _model, _admin in (
    (Success, ScaledTaskAdmin),
    (Failure, ScaledFailAdmin),
    (Schedule, ScaledScheduleAdmin),
    (OrmQ, ScaledQueueAdmin),
    (Group, ScaledGroupAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _admin)
