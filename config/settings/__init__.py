"""Settings for every environment, read from the process environment.

``DJANGO_ENV`` is ``development`` (default), ``test`` or ``production``. Production refuses to
start without its secrets; every malformed value stops the process and names the variable.

``DJANGO_SETTINGS_MODULE=config.settings`` is this package: one module per family of settings,
each setting defined in exactly one of them. A module that computes a setting from another
family's imports it by name (``deliveries`` reads ``Q_TIMEOUT`` from ``tasks``), so the order
below is for the reader (general first) and decides only which of several malformed variables
is reported first.
"""

from config.settings.core import *  # environment, secrets, apps, middleware, auth, static
from config.settings.database import *  # database and cache
from config.settings.security import *  # HTTPS, cookies, proxies, client page rate limit
from config.settings.mail import *  # SMTP or Mailgun (django-anymail)
from config.settings.wix import *  # Wix API, SSO, webhooks, their outbox kinds
from config.settings.tasks import *  # django-q2 cluster, queue readiness
from config.settings.outbox import *  # defaults of every outbox kind
from config.settings.deliveries import *  # the email outbox
from config.settings.operations import *  # plans, metrics, support pages, retention
from config.settings.logs import *  # structlog (configured on import)
from config.settings.api import *  # REST framework, throttles, idempotency, OpenAPI
