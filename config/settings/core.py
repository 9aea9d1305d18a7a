"""Core: which environment this is, its secrets and hosts, the apps, middleware, templates, auth,
i18n and static files. Every other settings module reads ``PRODUCTION`` / ``TESTING`` from here.
"""

import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DJANGO_ENV = env_str("DJANGO_ENV", "development", choices=("development", "test", "production"))
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"


def required_in_production(name: str, dev_default: str) -> str:
    if PRODUCTION:
        try:
            return env_str(name)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{exc} (required when DJANGO_ENV=production)") from None
    return env_str(name, dev_default)


# --- core -------------------------------------------------------------------------------------
SECRET_KEY = required_in_production(
    "SECRET_KEY", "dev-only-insecure-key-5c1f0e8a9b7d4c3e2f1a0b9c8d7e6f5a4b3c2d1e0f"
)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("dev-only")):
    raise ImproperlyConfigured(
        "Environment variable SECRET_KEY must be a random value of at least 50 characters "
        "in production"
    )
DEBUG = env_bool("DEBUG", not PRODUCTION and not TESTING)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "Environment variable DEBUG must be false when DJANGO_ENV=production"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "Environment variable ALLOWED_HOSTS is required but not set "
        "(required when DJANGO_ENV=production)"
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Base URL used in emails and links that leave the site (the client's proposal link).
SITE_URL = env_str("SITE_URL", "" if PRODUCTION else "http://127.0.0.1:8000").rstrip("/")
if PRODUCTION and not SITE_URL:
    raise ImproperlyConfigured(
        "Environment variable SITE_URL is required but not set "
        "(required when DJANGO_ENV=production)"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Renders index operator classes (trigram search indexes); does nothing on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_structlog",
    "anymail",
    "common",
    "accounts",
    "proposals",
    "integrations",
    "console",
]

MIDDLEWARE = [
    # Outermost, so that latency and status include every other middleware.
    "common.metrics.MetricsMiddleware",
    "common.middleware.RequestIdMiddleware",
    # Every 4xx/5xx under /api/ (from any middleware or view) becomes problem details.
    "common.problems.ApiProblemMiddleware",
    "common.middleware.RejectNulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "integrations.wix.middleware.WixInstanceSSOMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "accounts.middleware.CurrentBusinessMiddleware",
    # Amounts formatted and parsed as the signed-in business writes them (common.money).
    "common.locale_middleware.BusinessLocaleMiddleware",
    # Innermost: logs each /api/ request while its context (request id, key id) is bound.
    "common.problems.ApiRequestLogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_business",
            ],
        },
    },
]

# --- auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/app/"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- i18n, static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production WhiteNoise serves straight from the app and project static folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
if not PRODUCTION:
    # collectstatic only runs for production; elsewhere the missing folder is expected.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
# Files stored through the storage API (logos, PDFs): a git-ignored folder by default, never
# the process's working directory (the checkout, where they would end up beside the code).
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
