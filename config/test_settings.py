"""Settings for the test suite: the real settings with DJANGO_ENV=test."""

import atexit
import os
import shutil
import tempfile

os.environ["DJANGO_ENV"] = "test"

from config.settings import *  # noqa: F403

# Files a test stores (logos, PDFs) go to a folder of this run, removed when it ends; the
# processes it starts (servers, workers) inherit the variable and share the folder.
_MEDIA_ENV = "PROPOSALS_TEST_MEDIA_ROOT"
if not os.environ.get(_MEDIA_ENV):
    os.environ[_MEDIA_ENV] = tempfile.mkdtemp(prefix="proposals-test-media-")
    atexit.register(shutil.rmtree, os.environ[_MEDIA_ENV], ignore_errors=True)
MEDIA_ROOT = os.environ[_MEDIA_ENV]
