"""The site-details refresh from Wix: what it takes from which field of Wix's answers, and what
it leaves alone (a locale or time zone the owner chose in Settings)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Business, Membership
from integrations.lifecycle import business_refresh_from_wix
from integrations.models import WixUserLink
from proposals import services
from tests.accounts.factories import BusinessFactory, MembershipFactory, UserFactory
from tests.integrations.test_sso import SECRET as SSO_SECRET
from tests.integrations.test_sso_owner_link import OWNER_UID, open_as, signed_in

pytestmark = pytest.mark.django_db


def _refresh(business: Business) -> Business:
    business_refresh_from_wix(business=business)
    return Business.objects.get(pk=business.pk)


def _save_settings(business: Business, **changes: Any) -> None:
    fields: dict[str, Any] = {
        "brand_name": "",
        "brand_color": "#116dff",
        "remind_unopened_after_days": 3,
        "remind_unanswered_after_days": 7,
        "default_currency": business.currency,
    }
    services.settings_update(business=business, acting_user=None, **(fields | changes))


def test_the_owner_email_is_the_wix_account_owners_not_the_sites_contact_address(wix):
    business = BusinessFactory(owner_email="")
    wix.seed(
        instance_id=business.instance_id,
        owner_email="olive@studio.example",
        contact_email="hello@studio.example",
    )

    assert _refresh(business).owner_email == "olive@studio.example"


def test_an_address_stored_before_is_dropped_when_wix_names_no_owner(wix):
    # Without the READ SITE OWNER EMAIL scope Wix's answer has no ownerInfo (nor ownerEmail).
    business = BusinessFactory(owner_email="hello@studio.example")
    wix.seed(instance_id=business.instance_id, owner_email="", contact_email="hello@studio.example")

    assert _refresh(business).owner_email == ""


def test_a_contact_address_naming_another_users_account_never_links_sso_to_it(
    client, wix, settings
):
    business = BusinessFactory(owner_email="")
    victim = UserFactory(email="victim@studio.example")
    MembershipFactory(user=victim, business=business, role=Membership.Role.OWNER)
    # An editor of the site puts the victim's address up as the site's public contact email.
    wix.seed(
        instance_id=business.instance_id,
        owner_email="real-owner@elsewhere.example",
        contact_email="victim@studio.example",
    )
    business = _refresh(business)
    settings.WIX_APP_SECRET = SSO_SECRET  # what open_as signs the dashboard's instance with

    open_as(client, business)

    assert signed_in(client) != victim
    assert not WixUserLink.objects.filter(user=victim).exists()
    assert WixUserLink.objects.get(wix_user_id=OWNER_UID).user != victim


def test_the_locale_is_wixs_language_and_country_while_the_owner_has_not_chosen(wix):
    business = BusinessFactory(locale="en")
    wix.seed(instance_id=business.instance_id, locale="de", country="AT")

    assert _refresh(business).locale == "de-AT"


def test_a_language_whose_country_is_not_supported_stays_the_language(wix):
    business = BusinessFactory(locale="en")
    wix.seed(instance_id=business.instance_id, locale="de", country="US")

    assert _refresh(business).locale == "de"


def test_a_time_zone_chosen_in_settings_survives_the_refresh(wix):
    business = BusinessFactory(timezone="UTC")
    wix.seed(instance_id=business.instance_id, timezone="America/New_York")
    _save_settings(business, time_zone="Europe/Berlin")

    refreshed = _refresh(Business.objects.get(pk=business.pk))

    assert refreshed.timezone == "Europe/Berlin"
    assert refreshed.timezone_chosen


def test_wix_fills_the_time_zone_while_the_owner_has_not_chosen(wix):
    business = BusinessFactory(timezone="UTC")
    wix.seed(instance_id=business.instance_id, timezone="America/New_York")
    _save_settings(business, time_zone="UTC")  # saved unchanged: not a choice

    refreshed = _refresh(Business.objects.get(pk=business.pk))

    assert refreshed.timezone == "America/New_York"
    assert not refreshed.timezone_chosen


def test_a_locale_chosen_in_settings_survives_the_refresh(wix):
    business = BusinessFactory(locale="en")
    wix.seed(instance_id=business.instance_id, locale="fr", country="FR")
    _save_settings(business, locale="en-GB")

    refreshed = _refresh(Business.objects.get(pk=business.pk))

    assert (refreshed.locale, refreshed.locale_chosen) == ("en-GB", True)


def test_a_choice_made_while_the_refresh_ran_is_kept(wix):
    # The refresh read the business before the owner chose; its UPDATE still keeps the choice.
    business = BusinessFactory(timezone="UTC")
    wix.seed(instance_id=business.instance_id, timezone="America/New_York")
    stale = Business.objects.get(pk=business.pk)
    _save_settings(business, time_zone="Asia/Tokyo")

    business_refresh_from_wix(business=stale)

    assert stale.timezone == "Asia/Tokyo"
    assert Business.objects.get(pk=business.pk).timezone == "Asia/Tokyo"


def test_the_refresh_takes_the_plan_wix_reports_for_the_instance(wix):
    business = BusinessFactory(plan=Business.Plan.FREE)
    wix.seed(instance_id=business.instance_id, is_free=False, vendor_product_id="pro")

    refreshed = _refresh(business)

    assert (refreshed.plan, refreshed.plan_product_id) == (Business.Plan.PAID, "pro")
    assert refreshed.plan_changed_at is not None
    assert business.plan == Business.Plan.PAID  # the object handed in says so too


def test_a_plan_event_newer_than_the_refresh_is_kept(wix):
    # A plan event that happened after the refresh began (a purchase Wix timed later) wins:
    # the refresh's own plan state is older, whatever order the writes land in.
    later = timezone.now() + timedelta(minutes=5)
    business = BusinessFactory(
        plan=Business.Plan.PAID, plan_product_id="premium", plan_changed_at=later
    )
    wix.seed(instance_id=business.instance_id, is_free=True, site_name="Renamed")

    refreshed = _refresh(Business.objects.get(pk=business.pk))

    assert (refreshed.plan, refreshed.plan_product_id) == (Business.Plan.PAID, "premium")
    assert refreshed.plan_changed_at == later
    assert refreshed.site_name == "Renamed"  # the details are written all the same


def test_without_returning_the_refresh_reads_the_row_back_to_the_same_effect(wix, monkeypatch):
    # SQLite before 3.35 has no RETURNING: the UPDATE is followed by a read of the row.
    from accounts import business_update

    later = timezone.now() + timedelta(minutes=5)
    newer_plan = BusinessFactory(plan=Business.Plan.PAID, plan_changed_at=later, timezone="UTC")
    wix.seed(instance_id=newer_plan.instance_id, is_free=True, timezone="America/New_York")
    _save_settings(newer_plan, time_zone="Asia/Tokyo")
    stale = Business.objects.get(pk=newer_plan.pk)
    free = BusinessFactory(plan=Business.Plan.FREE)
    wix.seed(instance_id=free.instance_id, is_free=False, vendor_product_id="pro")
    monkeypatch.setattr(business_update, "_returning", lambda: False)

    business_refresh_from_wix(business=stale)
    business_refresh_from_wix(business=free)

    assert (stale.timezone, stale.timezone_chosen, stale.plan) == ("Asia/Tokyo", True, "paid")
    assert Business.objects.get(pk=stale.pk).plan_changed_at == later
    assert (free.plan, Business.objects.get(pk=free.pk).plan) == ("paid", "paid")
