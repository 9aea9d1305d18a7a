"""Email: the SMTP server or the email service (Mailgun through django-anymail) that sends it.

How deliveries retry and pace their sends is ``deliveries``.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_str
from config.settings.core import PRODUCTION, required_in_production

# --- email -----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = required_in_production("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Environment variables EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other"
    )
# Applies to connect and to every read on the SMTP socket: no send can hang a worker.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Proposals <proposals@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# An email service instead of SMTP, through django-anymail: Mailgun is the one documented and
# tested (EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend). Its tracking webhook
# (/email/webhooks/mailgun/tracking/) reports delivered / bounced / complained and exists only
# with MAILGUN_WEBHOOK_SIGNING_KEY; ANYMAIL_WEBHOOK_SECRET ("user:password") adds basic auth.
ANYMAIL: dict[str, object] = {
    key: value
    for key, value in {
        "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY", ""),
        "MAILGUN_SENDER_DOMAIN": env_str("MAILGUN_SENDER_DOMAIN", ""),
        "MAILGUN_API_URL": env_str("MAILGUN_API_URL", ""),  # EU: https://api.eu.mailgun.net/v3
        "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("MAILGUN_WEBHOOK_SIGNING_KEY", ""),
        "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", ""),
    }.items()
    if value
}
# Every call to the service: connect and read bounded like the SMTP socket.
ANYMAIL["REQUESTS_TIMEOUT"] = (EMAIL_TIMEOUT, EMAIL_TIMEOUT)
# A tracking webhook signed longer ago than this is refused as a replay (and a token seen
# within it): anymail checks the signature, not its age. Nine hours: Mailgun retries an event
# we did not take for 8 hours (5 min … 4 h apart) and does not say that it signs a retry anew,
# so a shorter window could refuse the bounce of an outage; the used tokens guard the replay.
MAILGUN_WEBHOOK_MAX_AGE_SECONDS = env_int("MAILGUN_WEBHOOK_MAX_AGE_SECONDS", 9 * 3600, minimum=60)
if PRODUCTION and EMAIL_BACKEND == "anymail.backends.mailgun.EmailBackend":
    for _name in ("MAILGUN_API_KEY", "MAILGUN_WEBHOOK_SIGNING_KEY"):
        if _name not in ANYMAIL:
            raise ImproperlyConfigured(
                f"Environment variable {_name} is required when EMAIL_BACKEND is Mailgun's"
            )
