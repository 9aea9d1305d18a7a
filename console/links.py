"""The console's pages that other apps' admins link to (registered in ``ConsoleConfig.ready``)."""

from urllib.parse import urlencode

from django.urls import reverse


def business_support_url(business_id: int) -> str:
    return reverse("admin:accounts_business_support", args=[business_id])


def request_timeline_url(request_id: str) -> str:
    """The support search for a request id: every record that carries it."""
    return reverse("support-search") + "?" + urlencode({"q": request_id})
