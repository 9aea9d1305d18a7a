"""REST API: throttle rates, Idempotency-Key, Django REST framework and the OpenAPI schema."""

from config.env import env_int, env_rate
from config.settings.security import TRUSTED_PROXY_COUNT

# --- REST framework (extended by the API work) ---------------------------------------------
# Requests per API key (or signed-in user), and per client IP: "<count>/<second|minute|hour|day>".
API_RATE_LIMIT_PER_KEY = env_rate("API_RATE_LIMIT_PER_KEY", "300/minute")
API_RATE_LIMIT_PER_IP = env_rate("API_RATE_LIMIT_PER_IP", "600/minute")
# How long a POST's Idempotency-Key and its stored response are kept (Stripe: 24 h minimum).
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24)
# A claim older than this belongs to a request that died (gunicorn kills a worker after its
# 30 s timeout): a retry with the same key takes it over instead of getting 409.
IDEMPOTENCY_LOCK_SECONDS = env_int("IDEMPOTENCY_LOCK_SECONDS", 60, minimum=35)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "proposals.api.authentication.ApiKeyAuthentication",
        "proposals.api.authentication.BusinessSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["proposals.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "proposals.api.problems.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "api_key": API_RATE_LIMIT_PER_KEY,
        "api_ip": API_RATE_LIMIT_PER_IP,
    },
    # Client IP for throttling: trust as many X-Forwarded-For hops as there are proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Proposals for Wix API",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # "kind" names several choice sets (activity, delivery, payment): each enum its own name.
    "ENUM_NAME_OVERRIDES": {
        "PaymentKindEnum": "proposals.schedule.KINDS",
        "InvoiceStatusEnum": "proposals.payments.INVOICE_STATUSES",
        "PaymentStatusEnum": "proposals.payments.PAYMENT_STATES",
        "StatusEnum": "proposals.models.proposals.ProposalStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "proposals.api.schema.postprocess",
    ],
}
