from django.contrib import admin
from django.urls import include, path

from common import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/support/", include("console.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("app/", include("proposals.urls_dashboard")),
    path("p/", include("proposals.urls_public")),
    path("integrations/", include("integrations.urls")),
    path("email/webhooks/", include("proposals.delivery.urls")),
    path("api/v1/", include("proposals.api.urls")),
]
