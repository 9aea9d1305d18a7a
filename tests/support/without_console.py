"""The admin of a project without the support console: its URLconf, and a walk of its pages.

``main()``, in a process set up with ``tests.support.without_console_settings`` on the test
database, prints as JSON the status of every page of the accounts, proposals and integrations
admins and the HTML of the business and request-id columns. Its rows are rolled back.
"""

import json
import sys

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]

APPS = ("accounts", "proposals", "integrations")


class _RollBack(Exception):
    pass


def main() -> None:
    from django.db import transaction

    try:
        with transaction.atomic():
            sys.stdout.write(json.dumps(_walk()) + "\n")
            raise _RollBack
    except _RollBack:
        pass


def _walk() -> dict:
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from proposals.delivery.admin import DeliveryAdmin
    from proposals.models import Delivery
    from tests.proposals.factories import make_sent_proposal
    from tests.support.factories import CallFactory, ReceiptFactory

    proposal, _ = make_sent_proposal()
    Delivery.objects.filter(proposal=proposal).update(request_id="req-without-console")
    CallFactory(business=proposal.business, request_id="req-without-console")
    ReceiptFactory(business=proposal.business)
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.create_superuser("root@example.com", "correct horse battery"))

    pages = {reverse("admin:index"): client.get(reverse("admin:index")).status_code}
    registered = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if opts.app_label not in APPS:
            continue
        registered.append(f"{opts.app_label}.{opts.model_name}")
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        pages[changelist] = response.status_code
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            pages[change] = client.get(change).status_code

    delivery = Delivery.objects.get(proposal=proposal)
    delivery_admin = admin.site.get_model_admin(Delivery)
    assert isinstance(delivery_admin, DeliveryAdmin)
    return {
        "registered": registered,
        "pages": pages,
        "business_change_url": reverse(
            "admin:accounts_business_change", args=[proposal.business_id]
        ),
        "business_link": delivery_admin.business_link(delivery),
        "request_trace": delivery_admin.request_trace(delivery),
    }
