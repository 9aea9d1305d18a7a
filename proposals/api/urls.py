from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from proposals.api import schema  # noqa: F401  (registers the OpenAPI extensions)
from proposals.api.throttling import ApiIpRateThrottle
from proposals.api.views import proposals as p
from proposals.api.views import resources as r

app_name = "api"


class IdConverter:
    """Database ids: 1–18 digits, so an absurd id is a plain 404 and never reaches SQL."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "api_id")

urlpatterns = [
    path("proposals/", p.ProposalListView.as_view(), name="proposal-list"),
    path("proposals/<api_id:pk>/", p.ProposalDetailView.as_view(), name="proposal-detail"),
    path("proposals/<api_id:pk>/send/", p.ProposalSendView.as_view(), name="proposal-send"),
    path(
        "proposals/<api_id:pk>/withdraw/",
        p.ProposalWithdrawView.as_view(),
        name="proposal-withdraw",
    ),
    path(
        "proposals/<api_id:pk>/duplicate/",
        p.ProposalDuplicateView.as_view(),
        name="proposal-duplicate",
    ),
    path(
        "proposals/<api_id:pk>/versions/",
        p.ProposalVersionListView.as_view(),
        name="proposal-version-list",
    ),
    path(
        "proposals/<api_id:pk>/versions/<api_id:number>/",
        p.ProposalVersionDetailView.as_view(),
        name="proposal-version-detail",
    ),
    path(
        "proposals/<api_id:pk>/activity/",
        p.ProposalActivityListView.as_view(),
        name="proposal-activity",
    ),
    path(
        "proposals/<api_id:pk>/deliveries/",
        p.ProposalDeliveryListView.as_view(),
        name="proposal-delivery-list",
    ),
    path("clients/", r.ClientListView.as_view(), name="client-list"),
    path("clients/<api_id:pk>/", r.ClientDetailView.as_view(), name="client-detail"),
    path("templates/", r.TemplateListView.as_view(), name="template-list"),
    path("templates/<api_id:pk>/", r.TemplateDetailView.as_view(), name="template-detail"),
    path("deliveries/", r.DeliveryListView.as_view(), name="delivery-list"),
    path("deliveries/<api_id:pk>/", r.DeliveryDetailView.as_view(), name="delivery-detail"),
    path("business/", r.BusinessView.as_view(), name="business"),
    path(
        "schema/",
        SpectacularAPIView.as_view(throttle_classes=[ApiIpRateThrottle]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", throttle_classes=[ApiIpRateThrottle]),
        name="docs",
    ),
]
