"""Settings for the test suite: the real settings with DJANGO_ENV=test."""

import os

os.environ["DJANGO_ENV"] = "test"

from config.settings import *  # noqa: F403
