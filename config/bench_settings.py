"""Settings for the HTTP benchmark (``manage.py bench_web``): production's, plus the floor view.

Only ROOT_URLCONF differs, so every target is measured on exactly the settings, middleware and
URLs production runs; the floor (``config.bench_urls``) exists in no other settings module.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "config.bench_urls"
