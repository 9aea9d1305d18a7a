"""The test settings with the support console (``console``) taken out of the project.

For ``test_admin_without_console``, which runs the admin in a process of its own with these.
"""

from config.test_settings import *  # noqa: F403
from config.test_settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "console"]
ROOT_URLCONF = "tests.support.without_console"
