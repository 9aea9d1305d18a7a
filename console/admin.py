"""Adds the support page to the business admin (a subclass, so accounts knows nothing of it)."""

from django.contrib import admin
from django.urls import path
from django.utils.html import format_html

from accounts.admin import BusinessAdmin
from accounts.models import Business
from common.admin_tools import business_support_url
from console import views


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
