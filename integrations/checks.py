"""System checks of the Wix settings (``manage.py check --deploy``)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register


def is_loopback_url(url: str) -> bool:
    """True for a URL naming this machine: localhost, 127.0.0.0/8, ::1 or 0.0.0.0, also in
    the short IPv4 spellings the resolver accepts (``127.1``, ``2130706433``, ``0x7f.1``)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # what getaddrinfo makes of a numeric host written short (inet_aton's rules)
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            return False
    address = getattr(address, "ipv4_mapped", None) or address
    return address.is_loopback or address.is_unspecified


@register(Tags.security, deploy=True)
def wix_api_base_url_check(app_configs, **kwargs) -> list[Error]:
    """In production every Wix call goes to ``WIX_API_BASE_URL``: the stand-in's loopback
    address there (a deploy that copied the development value) would fail every one of them.

    (A deploy check, not a refusal to start: the chaos run and bench_web start production
    settings against the stand-in on purpose.)
    """
    if not settings.PRODUCTION:
        return []
    url = settings.WIX_API_BASE_URL
    parts = urlsplit(url)
    if parts.scheme in ("https", "http") and parts.hostname and not is_loopback_url(url):
        return []
    return [
        Error(
            f"WIX_API_BASE_URL is {url!r}: in production it must be Wix's API.",
            hint="Unset it (the production default is https://www.wixapis.com) or set Wix's URL.",
            id="integrations.E001",
        )
    ]
