from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("wix/webhooks/", views.wix_webhook, name="wix-webhook"),
]
