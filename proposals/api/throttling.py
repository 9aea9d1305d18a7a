"""Rate limits per API key (or signed-in user) and per client IP, counted in the shared cache.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``API_RATE_LIMIT_PER_KEY`` and
``API_RATE_LIMIT_PER_IP``), read on every request so that tests and operators can change them.
The client IP honours ``NUM_PROXIES`` (= ``TRUSTED_PROXY_COUNT``): only that many proxies'
X-Forwarded-For entries are trusted.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from proposals.api.authentication import api_key_of


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class ApiKeyRateThrottle(_SettingsRateThrottle):
    """Requests per API key; a session counts per user."""

    scope = "api_key"

    def get_cache_key(self, request, view) -> str | None:
        api_key = api_key_of(request)
        if api_key is not None:
            ident = f"key:{api_key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None  # the per-IP limit covers anonymous requests
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ApiIpRateThrottle(_SettingsRateThrottle):
    """Requests per client IP, checked before authentication so key guessing is limited too."""

    scope = "api_ip"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
