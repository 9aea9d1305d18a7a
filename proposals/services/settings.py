"""The settings page's write: branding, reminders, currency, time zone and locale."""

import zoneinfo

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Business, User
from accounts.services import business_owner_choices_save
from common.money import supported_locale
from common.text import one_line
from proposals import branding, reminders, rules
from proposals.models import ProposalSettings
from proposals.services._common import _user_id

log = structlog.get_logger(__name__)


def settings_update(
    *,
    business: Business,
    acting_user: User | None,
    brand_name: str,
    brand_color: str,
    remind_unopened_after_days: int,
    remind_unanswered_after_days: int,
    default_currency: str,
    time_zone: str | None = None,
    locale: str | None = None,
    logo=None,
    remove_logo: bool = False,
) -> ProposalSettings:
    """Save the settings page. ``time_zone``: an IANA name (None keeps the business's; a new
    one is the owner's choice, which the Wix refresh keeps); ``locale``: one of
    ``common.money.SUPPORTED_LOCALES``, the owner's choice, or "" to follow the Wix site again
    (None keeps it as it is); ``logo``: an uploaded file, checked and stored
    (proposals.branding); ``remove_logo`` clears it (the file stays for the versions already
    sent with it)."""
    currency = rules.clean_currency(default_currency)
    errors: dict[str, str | list[str]] = {}
    if time_zone is not None and time_zone not in zoneinfo.available_timezones():
        errors["timezone"] = "Choose a time zone from the list."
    chosen_locale = supported_locale(locale) if locale else None
    if locale and chosen_locale is None:
        errors["locale"] = "Choose a language and country from the list."
    if logo is not None and not remove_logo:
        try:
            logo_extension = branding.logo_check(logo)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    for field, days in (
        ("remind_unopened_after_days", remind_unopened_after_days),
        ("remind_unanswered_after_days", remind_unanswered_after_days),
    ):
        if not isinstance(days, int) or days < 0 or days > rules.MAX_REMINDER_DAYS:
            errors[field] = f"Enter a number of days between 0 (off) and {rules.MAX_REMINDER_DAYS}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        prefs, _ = ProposalSettings.objects.get_or_create(business=business)
        prefs.brand_name = one_line(brand_name, max_length=rules.MAX_NAME)
        prefs.brand_color = brand_color
        prefs.remind_unopened_after_days = remind_unopened_after_days
        prefs.remind_unanswered_after_days = remind_unanswered_after_days
        if remove_logo:
            prefs.logo = ""
        elif logo is not None:
            prefs.logo = branding.logo_store(
                business_id=business.pk, upload=logo, extension=logo_extension
            )
        prefs.full_clean(exclude=["business"])
        prefs.save()
        # The new days apply to proposals already sent, as they always did.
        reminders.reminders_reschedule(business_id=business.pk)
        business_owner_choices_save(
            business=business,
            currency=currency,
            time_zone=time_zone,
            locale=chosen_locale or locale,  # "" follows the Wix site again
        )
    log.info(
        "proposal_settings_updated",
        business_id=business.pk,
        acting_user_id=_user_id(acting_user),
    )
    return prefs
