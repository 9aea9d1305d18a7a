from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView, TemplateView

from common import health, metrics

urlpatterns = [
    # What someone typing the address finds: the product, and the doors to the dashboard and
    # the admin (GET and HEAD only, like every page).
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    # Browsers and crawlers ask for /favicon.ico whatever the page links to; the static name
    # is resolved on the first request (once the manifest of hashed names exists).
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("favicon/favicon.svg")),
        name="favicon",
    ),
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
