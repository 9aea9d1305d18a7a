"""Money as the sending business writes it on the client's page, in emails and in the admin
(issue 13 pt 3): one formatting function (common.money.format_money) behind every door."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from common.money import current_locale
from proposals import services
from proposals.delivery import mailer, message
from proposals.models import Delivery
from tests.proposals.factories import accept, make_sent_proposal

pytestmark = pytest.mark.django_db


def german_sent_proposal():
    proposal, version = make_sent_proposal(currency="EUR")
    business = proposal.business
    business.locale, business.currency = "de-DE", "EUR"
    business.save()
    return proposal, version


def test_client_page_writes_amounts_as_the_sending_business_does():
    _, version = german_sent_proposal()
    page = Client().get(reverse("public:proposal", args=[version.token])).content.decode()
    assert "2.346,00\xa0€" in page  # 1200 + 10 × 95.50 × 1.2
    assert "EUR 2" not in page and "€2,346.00" not in page
    assert 'data-locale="de-DE"' in page  # the live totals (public.js) format the same way
    assert current_locale() == "en_US"  # nothing leaks past the request


def test_accepted_page_writes_amounts_as_the_sending_business_does():
    _, version = german_sent_proposal()
    services.proposal_accept(
        version=version,
        signed_name="Ada Lovelace",
        agreed=True,
        selected_item_keys=[],
        ip=None,
        user_agent="",
    )
    page = Client().get(reverse("public:proposal", args=[version.token])).content.decode()
    assert "2.346,00\xa0€" in page


def test_an_email_is_built_in_the_business_locale(monkeypatch):
    _, version = german_sent_proposal()
    delivery = Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)
    seen = []
    real = message.render_to_string

    def spy(name, context):
        seen.append(current_locale())
        return real(name, context)

    monkeypatch.setattr(message, "render_to_string", spy)
    mailer.build_message(delivery)
    assert seen == ["de-DE", "de-DE"]  # text and HTML
    assert current_locale() == "en_US"


def test_admin_lists_totals_as_each_business_writes_them():
    proposal, _ = german_sent_proposal()
    staff = User.objects.create_superuser("root@example.com", "correct horse battery")
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("admin:proposals_proposal_changelist")).content.decode()
    assert "2.346,00\xa0€" in page or "2.346,00&nbsp;€" in page
    assert proposal.display_number in page


def test_the_owners_accept_email_writes_the_total_as_the_business_does():
    _, version = german_sent_proposal()
    accept(version)
    delivery = Delivery.objects.get(kind="owner_accepted")
    built = mailer.build_message(delivery)
    assert "Accepted total: 2.346,00\xa0€" in built.body
    assert "2.346,00\xa0€" in built.alternatives[0][0]
