"""The email service's webhooks (mounted at /email/webhooks/ in config/urls.py)."""

from django.urls import path

from proposals.delivery import webhooks

app_name = "email_webhooks"

urlpatterns = [
    path("mailgun/tracking/", webhooks.mailgun_tracking, name="mailgun-tracking"),
]
