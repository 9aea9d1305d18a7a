"""Settings: the owner chooses the locale amounts are written in (a supported CLDR locale);
the dashboard, the client page, the emails and the admin follow it."""

import pytest
from django.urls import reverse

from accounts.models import Business
from common.money import format_money
from proposals.delivery import mailer
from proposals.models import Delivery
from tests.proposals.factories import accept, make_sent_proposal
from tests.proposals.test_views_manage import settings_post

pytestmark = pytest.mark.django_db


def _post(owner_client, **overrides):
    return owner_client.post(reverse("dashboard:settings"), settings_post(**overrides))


def test_the_locale_is_chosen_from_cldr_names(owner_client, business):
    page = owner_client.get(reverse("dashboard:settings")).content.decode()
    assert '<option value="" selected>As your Wix site has it</option>' in page
    assert '<option value="de-DE">German (Germany) · Deutsch (Deutschland)</option>' in page

    assert _post(owner_client, locale="de-DE").status_code == 302

    business.refresh_from_db()
    assert (business.locale, business.locale_chosen) == ("de-DE", True)
    page = owner_client.get(reverse("dashboard:settings")).content.decode()
    assert '<option value="de-DE" selected>' in page
    assert "1.234,50\xa0€" in page  # the example under the select, in EUR (settings_post)


def test_an_unsupported_locale_is_a_form_error_and_changes_nothing(owner_client, business):
    response = _post(owner_client, locale="xx-YY")

    assert response.status_code == 400
    assert 'id="id_locale-error"' in response.content.decode()
    business.refresh_from_db()
    assert (business.locale, business.locale_chosen) == ("en", False)


def test_following_the_wix_site_again_clears_the_choice(owner_client, business):
    _post(owner_client, locale="en-GB")
    assert _post(owner_client, locale="").status_code == 302

    business.refresh_from_db()
    assert not business.locale_chosen  # the next refresh from Wix sets the locale


def test_the_pages_emails_and_admin_write_amounts_in_the_chosen_locale(
    owner_client, business, admin_client
):
    _post(owner_client, locale="de-DE")
    proposal, version = make_sent_proposal(business=Business.objects.get(pk=business.pk))
    shown = format_money(proposal.total, proposal.currency, "de-DE")
    assert shown != format_money(proposal.total, proposal.currency, "en-US")

    assert shown in owner_client.get(reverse("dashboard:proposal_list")).content.decode()
    client_page = owner_client.get(reverse("public:proposal", args=[version.token]))
    assert shown in client_page.content.decode()
    accept(version, "Ada", ip=None, user_agent="")
    proposal.refresh_from_db()
    shown = format_money(proposal.total, proposal.currency, "de-DE")
    delivery = Delivery.objects.select_related("business").get(kind="owner_accepted")
    assert shown in mailer.build_message(delivery).body
    admin = admin_client.get(reverse("admin:proposals_proposal_changelist"))
    assert shown in admin.content.decode()
