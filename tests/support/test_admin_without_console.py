"""The apps' admins stand without the support console; with it, they link to its pages."""

import json
import subprocess
import sys

import pytest
from django.contrib import admin
from django.urls import reverse

from proposals.models import Delivery
from tests.conftest import ROOT, subprocess_env
from tests.support.factories import CallFactory, DeliveryFactory


@pytest.mark.slow
def test_every_admin_page_of_the_apps_renders_with_the_console_not_installed(django_db_setup):
    """A process of its own, ``console`` out of INSTALLED_APPS: admin discovery, templates and
    URLs are those of a project that never had it. Only the test database is needed here, not a
    transaction of this process: on SQLite an open one would lock the child out of writing."""
    script = "import django; django.setup(); from tests.support.without_console import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="tests.support.without_console_settings"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    walk = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"proposals.proposal", "proposals.delivery", "integrations.integrationcall"} <= set(
        walk["registered"]
    )
    assert len(walk["pages"]) > len(walk["registered"])  # change pages too, not only lists
    assert {page: status for page, status in walk["pages"].items() if status != 200} == {}
    # Without its support page, a business links to its admin page; a request id is text.
    assert f'href="{walk["business_change_url"]}"' in walk["business_link"]
    assert walk["request_trace"] == "req-without-console"


@pytest.mark.django_db
def test_with_the_console_a_business_links_to_its_support_page_and_a_request_id_to_search():
    delivery = DeliveryFactory(request_id="req-with-console")
    call = CallFactory(business=delivery.business)
    support_page = reverse("admin:accounts_business_support", args=[delivery.business_id])
    delivery_admin = admin.site.get_model_admin(Delivery)
    call_admin = admin.site.get_model_admin(type(call))

    assert f'href="{support_page}"' in delivery_admin.business_link(delivery)
    assert f'href="{support_page}"' in call_admin.business_link(call)
    trace = delivery_admin.request_trace(delivery)
    assert f'href="{reverse("support-search")}?q=req-with-console"' in trace
