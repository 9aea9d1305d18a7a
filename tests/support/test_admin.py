"""The admin as a support tool: every page renders, nothing leaks, history stays read-only."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, StaffAction
from integrations.models import WixAccessToken
from proposals.models import Delivery, ProposalPdf
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.proposals.factories import make_proposal, make_sent_proposal
from tests.support.factories import (
    AttemptFactory,
    BreakerFactory,
    CallFactory,
    DeliveryFactory,
    ReceiptFactory,
)

pytestmark = pytest.mark.django_db

SECRET_TOKEN = "wix-access-token-SECRET-0123456789"


@pytest.fixture
def world(superuser):
    """One row of most models, all around one business: for the tests that walk every page."""
    proposal, version = make_sent_proposal()
    business = proposal.business
    MembershipFactory(business=business)
    delivery = Delivery.objects.get(proposal=proposal)
    AttemptFactory(delivery=delivery)
    CallFactory(business=business, request_id="req-world-0001")
    ReceiptFactory(business=business)
    BreakerFactory()
    WixAccessToken.objects.create(
        instance_id=business.instance_id,
        access_token=SECRET_TOKEN,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    key = ApiKey.objects.create(
        business=business, name="CI", prefix="pk_test", key_hash=ApiKey.hash_key("raw-key-xyz")
    )
    StaffAction.objects.create(action="test", outcome="ok", business=business)
    ProposalPdf.objects.create(
        business=business, proposal=proposal, version=version, kind="sent",
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    return {"proposal": proposal, "version": version, "delivery": delivery, "api_key": key}


@pytest.mark.parametrize("who", ["super_client", "support_client"])
def test_every_admin_list_and_change_page_renders_for_staff(who, world, request):
    client = request.getfixturevalue(who)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(changelist)
        assert response.status_code == 200, (changelist, response.status_code)
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            response = client.get(change)
            assert response.status_code == 200, (change, response.status_code)


@pytest.mark.parametrize("who", ["super_client", "support_client"])
def test_tokens_and_key_hashes_appear_on_no_admin_page(who, world, request):
    client = request.getfixturevalue(who)
    secrets = [SECRET_TOKEN, world["api_key"].key_hash, world["version"].token]
    token = WixAccessToken.objects.get()
    pages = [
        reverse("admin:integrations_wixaccesstoken_changelist"),
        reverse("admin:integrations_wixaccesstoken_change", args=[token.pk]),
        reverse("admin:accounts_apikey_change", args=[world["api_key"].pk]),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:proposals_proposalversion_change", args=[world["version"].pk]),
        reverse("admin:proposals_proposal_change", args=[world["proposal"].pk]),
        reverse("admin:accounts_business_support", args=[world["proposal"].business_id]),
    ]
    for page in pages:
        body = client.get(page).content.decode()
        for secret in secrets:
            assert secret not in body, page


def test_support_staff_do_not_see_even_the_masked_password_hash(support_client, superuser):
    response = support_client.get(reverse("admin:accounts_user_change", args=[superuser.pk]))
    assert response.status_code == 200
    assert "pbkdf2" not in response.content.decode().lower()
    assert "md5" not in response.content.decode().lower()


def test_support_staff_cannot_change_a_proposal(support_client):
    proposal = make_proposal()
    url = reverse("admin:proposals_proposal_change", args=[proposal.pk])
    response = support_client.post(url, {"title": "Hacked", "status": "accepted"})
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.title == "Website redesign"


def test_support_staff_cannot_change_users_or_become_superuser(support_client, support_user):
    url = reverse("admin:accounts_user_change", args=[support_user.pk])
    response = support_client.post(url, {"email": support_user.email, "is_superuser": "on"})
    assert response.status_code == 403
    support_user.refresh_from_db()
    assert not support_user.is_superuser


@pytest.mark.parametrize(
    "model", ["delivery", "deliveryattempt", "activity", "acceptance", "proposalversion"]
)
def test_history_cannot_be_edited_or_deleted_even_by_a_superuser(super_client, model):
    obj_model = admin.site._registry
    target = next(m for m in obj_model if m._meta.model_name == model)
    model_admin = obj_model[target]
    request = super_client.get("/admin/").wsgi_request
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert not model_admin.has_add_permission(request)


def test_retry_action_in_the_delivery_list_is_audited_including_refusals(support_client, business):
    failed = DeliveryFactory(business=business)
    sent = DeliveryFactory(business=failed.business, state=Delivery.State.SENT)
    response = support_client.post(
        reverse("admin:proposals_delivery_changelist"),
        {"action": "retry", "_selected_action": [failed.pk, sent.pk]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 done." in text
    assert "already sent" in text
    assert sorted(
        StaffAction.objects.filter(action="delivery_retry").values_list("target_id", "outcome")
    ) == sorted([(str(failed.pk), "ok"), (str(sent.pk), "refused")])


def test_staff_without_the_support_permission_get_no_actions(client, support_client):
    DeliveryFactory()  # a list without rows shows no actions to anyone
    url = reverse("admin:proposals_delivery_changelist")
    assert "Retry the selected" in support_client.get(url).content.decode()
    viewer = UserFactory(email="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_delivery"))
    client.force_login(viewer)
    response = client.get(url)
    assert response.status_code == 200
    assert "Retry the selected" not in response.content.decode()


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _fill(business, n: int) -> None:
    """n failed deliveries (with attempts), calls, receipts, proposals and staff actions."""
    for _ in range(n):
        delivery = DeliveryFactory(business=business)
        AttemptFactory(delivery=delivery)
        CallFactory(business=business)
        ReceiptFactory(business=business)
        make_proposal(business=business)
        StaffAction.objects.create(action="test", outcome="ok", business=business)


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:proposals_delivery_changelist",
        "admin:proposals_deliveryattempt_changelist",
        "admin:proposals_proposal_changelist",
        "admin:proposals_client_changelist",
        "admin:integrations_integrationcall_changelist",
        "admin:integrations_webhookreceipt_changelist",
        "admin:accounts_staffaction_changelist",
        "admin:accounts_business_changelist",
    ],
)
def test_big_lists_issue_the_same_number_of_queries_for_5_and_50_rows(
    support_client, business, url_name
):
    url = reverse(url_name)
    _fill(business, 5)
    few = _count_queries(support_client, url)
    _fill(business, 45)
    many = _count_queries(support_client, url)
    assert few == many


def test_business_support_page_queries_do_not_grow_with_rows(
    support_client, business, django_assert_max_num_queries
):
    url = reverse("admin:accounts_business_support", args=[business.pk])
    _fill(business, 5)
    few = _count_queries(support_client, url)
    _fill(business, 45)
    with django_assert_max_num_queries(few):
        many = _count_queries(support_client, url)
    assert few == many


def test_the_proposal_list_finds_a_proposal_by_its_number(support_client):
    proposal, _ = make_sent_proposal()
    response = support_client.get(
        reverse("admin:proposals_proposal_changelist"), {"q": proposal.display_number}
    )
    assert (
        reverse("admin:proposals_proposal_change", args=[proposal.pk]) in response.content.decode()
    )


def test_the_audit_log_links_each_action_to_its_target(support_client, support_user):
    from proposals.support import support_delivery_retry

    delivery = DeliveryFactory()
    support_delivery_retry(delivery=delivery, acting_user=support_user)
    entry = StaffAction.objects.get(action="delivery_retry")
    assert (entry.actor, entry.target_id) == (support_user, str(delivery.pk))
    page = support_client.get(reverse("admin:accounts_staffaction_changelist")).content.decode()
    assert reverse("admin:proposals_delivery_change", args=[delivery.pk]) in page
