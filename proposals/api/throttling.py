"""Rate limits per API key (or signed-in user) and per client IP, counted in the shared cache.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``API_RATE_LIMIT_PER_KEY`` and
``API_RATE_LIMIT_PER_IP``), read on every request so that tests and operators can change them.
The client IP honours ``NUM_PROXIES`` (= ``TRUSTED_PROXY_COUNT``): only that many proxies'
X-Forwarded-For entries are trusted.

Both limits are counted by ``common.ratelimit`` in one cache round trip per request
(``api_limits_wait``); ``ApiIpRateThrottle`` is the same per-IP limit as a DRF throttle class
for the views that are not ``ApiView`` (the schema and its browser).
"""

import hashlib

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from common import ratelimit
from proposals.api.authentication import api_key_of

MAX_IDENT = 64


def _rate(scope: str) -> ratelimit.Rate:
    # The stub types DRF's rates as numbers; DRF reads them (and config/settings/api.py sets
    # them) as text.
    return ratelimit.Rate.parse(api_settings.DEFAULT_THROTTLE_RATES[scope])  # type: ignore[arg-type]


def _short(ident: str | None) -> str:
    # X-Forwarded-For is client text: keep counter keys short and printable.
    if not ident:
        return "unknown"
    if len(ident) <= MAX_IDENT and ident.isprintable() and " " not in ident:
        return ident
    return "h:" + hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]


def ip_limit(request: Request) -> ratelimit.Limit:
    ident = BaseThrottle().get_ident(request)  # DRF's NUM_PROXIES-aware client address
    return ratelimit.Limit(key=f"api_ip:{_short(ident)}", rate=_rate("api_ip"))


def key_limit(request: Request) -> ratelimit.Limit | None:
    """Per API key; a session counts per user; None for an anonymous request."""
    api_key = api_key_of(request)
    if api_key is not None:
        ident = f"key:{api_key.pk}"
    elif request.user and request.user.is_authenticated:
        ident = f"user:{request.user.pk}"
    else:
        return None  # the per-IP limit covers anonymous requests
    return ratelimit.Limit(key=f"api_key:{ident}", rate=_rate("api_key"))


def api_limits_wait(request: Request) -> int | None:
    """Count this request against its limits in one round trip; seconds to wait when over."""
    limits = [ip_limit(request)]
    per_key = key_limit(request)
    if per_key is not None:
        limits.append(per_key)
    over = [outcome.retry_after for outcome in ratelimit.hit(limits) if not outcome.allowed]
    return max(over) if over else None


class ApiIpRateThrottle(BaseThrottle):
    """Requests per client IP (DRF throttle class for views outside ``ApiView``)."""

    def allow_request(self, request, view) -> bool:
        outcome = ratelimit.hit_one(ip_limit(request))
        self._wait = outcome.retry_after
        return outcome.allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)
