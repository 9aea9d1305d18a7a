"""Security and deployment: HTTPS, HSTS, cookies, framing, trusted proxies, the client page's
answer rate. (The dashboard's SameSite=None cookies come with the Wix iframe, in ``wix``.)
"""

from config.env import env_bool, env_int, env_rate
from config.settings.core import PRODUCTION

# --- security --------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Client IPs (rate limits, view and acceptance records): how many reverse proxies in front of
# the app append to X-Forwarded-For. 0 trusts only the socket address (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)


# Accept/decline POSTs on the client page, per client IP: "<count>/<second|minute|hour|day>".
PUBLIC_ANSWER_RATE_LIMIT = env_rate("PUBLIC_ANSWER_RATE_LIMIT", "10/hour")
