"""Dashboard routes for API keys, included under /app/api-keys/ by urls_dashboard."""

from django.urls import path

from proposals import views_api_keys

urlpatterns = [
    path("", views_api_keys.api_key_list, name="api_keys"),
    path("created", views_api_keys.api_key_created, name="api_key_created"),
    path("<int:pk>/revoke", views_api_keys.api_key_revoke_view, name="api_key_revoke"),
]
