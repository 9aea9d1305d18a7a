"""Support pages under /admin/support/ (staff only, through the admin site's login)."""

from django.contrib import admin
from django.urls import path

from console import views

urlpatterns = [
    path("search/", admin.site.admin_view(views.search), name="support-search"),
    path("bulk-retry/", admin.site.admin_view(views.bulk_retry), name="support-bulk-retry"),
]
