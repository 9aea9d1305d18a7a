"""The app's life on a Wix site: installed, removed, plan changes, site details.

Each write owns a short transaction on the business row; calls to Wix happen outside it.
Events carry the time they happened at Wix (``occurred_at``) so that a late, reordered delivery
never overwrites what a newer event already decided.
"""

import time
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import available_timezones

import structlog
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.business_update import business_refresh_update, business_update
from accounts.models import Business
from common.money import supported_locale
from common.text import one_line
from integrations.wix.client import WixClient, drop_tokens, expect_first_token
from proposals.selectors import proposal_counts
from proposals.services import proposals_purge

log = structlog.get_logger(__name__)

PLAN_KINDS = frozenset(
    {
        "PlanPurchased",
        "PlanChanged",
        "PlanAutoRenewalCancelled",
        "PlanConvertedToPaid",
        "PlanReactivated",
        "PlanTransferred",
    }
)


def normalize_event_type(event_type: str) -> str:
    """``PaidPlanPurchased`` and ``PlanPurchased`` are the same event (Wix uses both)."""
    if event_type.startswith("PaidPlan"):
        return "Plan" + event_type.removeprefix("PaidPlan")
    return event_type


def business_install(*, instance_id: str, occurred_at: datetime) -> tuple[Business, bool]:
    """Create the business of this instance, or reactivate it; returns (business, changed)."""
    business = _business_insert(instance_id=instance_id, occurred_at=occurred_at)
    if business is not None:
        expect_first_token(instance_id=instance_id)
        log.info("wix_business_installed", business_id=business.pk, instance_id=instance_id)
        return business, True
    with transaction.atomic():
        # Also the way in when the row the INSERT met was purged since: created here then.
        business, created = Business.objects.select_for_update().get_or_create(
            instance_id=instance_id,
            defaults={"installed_at": occurred_at, "status": Business.Status.ACTIVE},
        )
        if created:
            log.info("wix_business_installed", business_id=business.pk, instance_id=instance_id)
            return business, True
        if business.status == Business.Status.ACTIVE:
            # Keep the newest install time, so a removal from before it is seen as stale.
            if occurred_at > business.installed_at:
                business.installed_at = occurred_at
                business.save(update_fields=["installed_at", "updated_at"])
            return business, False
        if business.uninstalled_at and occurred_at < business.uninstalled_at:
            log.info("wix_install_event_stale", business_id=business.pk)
            return business, False
        business.status = Business.Status.ACTIVE
        business.installed_at = occurred_at
        business.uninstalled_at = None
        business.save(update_fields=["status", "installed_at", "uninstalled_at", "updated_at"])
        log.info("wix_business_reinstalled", business_id=business.pk, instance_id=instance_id)
        return business, True


def _business_insert(*, instance_id: str, occurred_at: datetime) -> Business | None:
    """The install of a new site in one INSERT; None when it conflicts (the instance has its
    business already: a reinstall, a repeated or reordered event), for the locked path.

    Outside a transaction the INSERT is one statement on its own, and a conflict fails only
    itself; inside one, a savepoint keeps the conflict from breaking the enclosing block.
    """
    fields = {"instance_id": instance_id, "installed_at": occurred_at}
    try:
        if not transaction.get_connection().in_atomic_block:
            return Business.objects.create(**fields, status=Business.Status.ACTIVE)
        with transaction.atomic():
            return Business.objects.create(**fields, status=Business.Status.ACTIVE)
    except IntegrityError:
        return None


def business_uninstall(*, instance_id: str, occurred_at: datetime) -> Business:
    """Mark the business uninstalled and forget its tokens; its data is kept (retention).

    A removal of an instance never seen installed is recorded too: the later event wins,
    whatever the order the events arrive in.
    """
    with transaction.atomic():
        business, created = Business.objects.select_for_update().get_or_create(
            instance_id=instance_id,
            defaults={
                "status": Business.Status.UNINSTALLED,
                "installed_at": occurred_at,
                "uninstalled_at": occurred_at,
            },
        )
        if created:
            # The removal overtook the install it follows (Wix does not promise the order). Keep
            # it as an uninstalled business, so the older install, when it arrives, is stale;
            # the retention purge deletes the row like any other uninstalled business.
            log.info("wix_uninstall_before_install", business_id=business.pk)
            return business
        if business.status == Business.Status.UNINSTALLED:
            # Keep the newest removal time, so an install from before it is seen as stale.
            if business.uninstalled_at is None or occurred_at > business.uninstalled_at:
                business.uninstalled_at = occurred_at
                business.save(update_fields=["uninstalled_at", "updated_at"])
            return business
        if occurred_at < business.installed_at:
            log.info("wix_uninstall_event_stale", business_id=business.pk)
            return business
        business.status = Business.Status.UNINSTALLED
        business.uninstalled_at = occurred_at
        business.save(update_fields=["status", "uninstalled_at", "updated_at"])
        drop_tokens(instance_ids=[instance_id])
    log.info("wix_business_uninstalled", business_id=business.pk, instance_id=instance_id)
    return business


def _plan_state(*, paid: bool, product_id: str | None, occurred_at: datetime) -> dict:
    """The plan fields of a state true at ``occurred_at``."""
    changes: dict = {
        "plan": Business.Plan.PAID if paid else Business.Plan.FREE,
        "plan_changed_at": occurred_at,
    }
    if product_id is not None:
        changes["plan_product_id"] = product_id[:100]
    return changes


def _plan_written(business: Business, changes: dict, *, applied: bool, source: str) -> bool:
    if not applied:
        log.info(
            "wix_plan_event_stale",
            business_id=business.pk,
            source=source,
            occurred_at=changes["plan_changed_at"].isoformat(),
        )
        return False
    for field, value in changes.items():
        setattr(business, field, value)
    log.info("wix_plan_updated", business_id=business.pk, plan=business.plan, source=source)
    return True


def business_set_plan(
    *, business: Business, paid: bool, product_id: str | None, occurred_at: datetime, source: str
) -> bool:
    """Apply a plan state that was true at ``occurred_at``; False when newer state exists.

    One conditional UPDATE: the row lock it takes makes a concurrent plan change wait, and
    PostgreSQL re-checks the condition on the row as that change left it, so an older state
    never overwrites a newer one whatever the order. ``business`` gets the state applied.
    """
    changes = _plan_state(paid=paid, product_id=product_id, occurred_at=occurred_at)
    applied = business_update(
        pk=business.pk, values={"updated_at": timezone.now()}, plan=changes, plan_only=True
    )
    return _plan_written(business, changes, applied=bool(applied), source=source)


def business_apply_plan_event(
    *, business: Business, kind: str, data: dict, occurred_at: datetime
) -> bool:
    product_id = data.get("vendorProductId")
    product_id = str(product_id) if product_id else None
    if kind == "PlanAutoRenewalCancelled":
        # Still paid until the cycle ends; Wix sends no event then, so the next instance
        # fetch (install, dashboard visit) tells us when it has become free.
        log.info("wix_plan_auto_renewal_cancelled", business_id=business.pk)
        return False
    if kind == "PlanTransferred":
        # The event does not say in which direction: ask Wix what this site has now.
        started = timezone.now()
        instance = WixClient.for_business(business).get_app_instance().get("instance") or {}
        return business_set_plan(
            business=business,
            paid=not instance.get("isFree", True),
            product_id=((instance.get("billing") or {}).get("packageName") or ""),
            occurred_at=max(started, occurred_at),
            source=kind,
        )
    return business_set_plan(
        business=business, paid=True, product_id=product_id, occurred_at=occurred_at, source=kind
    )


def _valid_email(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        validate_email(value)
    except ValidationError:
        return None
    return value.lower()[:254]


@cache
def _timezones() -> frozenset[str]:
    """The IANA names this machine knows (read once: listing them walks the tz database)."""
    return frozenset(available_timezones())


def _owner_account_email(site: dict) -> str:
    """The Wix account owner's email, as Get App Instance gives it ("" when it names none).

    ``site.ownerInfo.email`` (with the READ SITE OWNER EMAIL scope), else the older
    ``site.ownerEmail`` of the same response. Never the site properties' ``email``: that is a
    public contact address any editor of the site can set, and SSO links on this one.
    """
    owner_info = site.get("ownerInfo")
    if not isinstance(owner_info, dict):
        owner_info = {}
    return _valid_email(owner_info.get("email")) or _valid_email(site.get("ownerEmail")) or ""


def _wix_locale(properties: dict, site: dict) -> str:
    """``de-DE`` from the site's language and country where the product supports it, else
    the language alone (money falls back to it)."""
    locale = properties.get("locale")
    if not isinstance(locale, dict):
        locale = {}
    language = str(locale.get("languageCode") or site.get("locale") or "")
    country = str(locale.get("country") or "")
    return supported_locale(f"{language}-{country}") or language[:16]


def business_refresh_from_wix(*, business: Business) -> Business:
    """Fetch the app instance and site properties through the client and store them.

    A locale or time zone the owner chose in Settings is kept; Wix's only fills them while
    the owner has not chosen.
    """
    started = timezone.now()
    client = WixClient.for_business(business)
    payload = client.get_app_instance()
    properties = client.get_site_properties().get("properties") or {}
    instance, site = payload.get("instance") or {}, payload.get("site") or {}
    updates: dict = {
        "site_name": one_line(
            site.get("siteDisplayName") or properties.get("siteDisplayName"), max_length=200
        ),
        "site_url": str(site.get("url") or "")[:500],
        "locale": _wix_locale(properties, site),
        "currency": str(properties.get("paymentCurrency") or site.get("paymentCurrency") or ""),
        "timezone": str(properties.get("timeZone") or ""),
    }
    if not (len(updates["currency"]) == 3 and updates["currency"].isalpha()):
        updates.pop("currency")
    else:
        updates["currency"] = updates["currency"].upper()
    if updates["timezone"] not in _timezones():
        updates.pop("timezone")
    updates = {key: value for key, value in updates.items() if value}
    # Set even when empty: an address stored before (from wherever) must not stay trusted
    # once Wix names no owner email.
    updates["owner_email"] = _owner_account_email(site)
    plan: dict = {}
    if "isFree" in instance:
        # In the same UPDATE, under business_set_plan's rule: only over an older plan state.
        plan = _plan_state(
            paid=not instance["isFree"],
            product_id=(instance.get("billing") or {}).get("packageName") or "",
            occurred_at=started,
        )
    stored = business_refresh_update(
        pk=business.pk, values={**updates, "updated_at": timezone.now()}, plan=plan
    )
    for field, value in updates.items():
        setattr(business, field, value)
    for field in ("locale", "timezone", "locale_chosen", "timezone_chosen"):
        setattr(business, field, stored[field])
    if plan:
        _plan_written(business, plan, applied=bool(stored["plan_applied"]), source="instance")
    log.info("wix_business_details_refreshed", business_id=business.pk, fields=sorted(updates))
    return business


def business_purge_uninstalled(*, now: datetime | None = None) -> int:
    """Delete businesses uninstalled longer ago than ``WIX_UNINSTALLED_RETENTION_DAYS``.

    Deleting a business deletes everything it owns (clients, proposals, deliveries, files, …).
    A reinstall inside the retention period reactivates the business with its data intact.
    Work goes in batches (``_purge_batch``), oldest removal first, up to the retention job's
    ``RETENTION_MAX_BATCHES`` and for at most ``WIX_PURGE_SECONDS``; the next run continues
    where this one stopped.
    """
    from django.conf import settings

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.WIX_UNINSTALLED_RETENTION_DAYS)
    deadline = time.monotonic() + settings.WIX_PURGE_SECONDS
    purged = 0
    for _ in range(settings.RETENTION_MAX_BATCHES):
        done, more = _purge_batch(cutoff=cutoff)
        purged += done
        if not more or time.monotonic() >= deadline:
            break
    return purged


def _purge_batch(*, cutoff: datetime) -> tuple[int, bool]:
    """One transaction: up to ``WIX_PURGE_BATCH_BUSINESSES`` expired businesses, as many as fit
    in ``WIX_PURGE_BATCH_PROPOSALS`` proposals (the first always), deleted set-wise — the same
    few queries per owned table whatever the batch holds. (Purged, whether more may be due.)

    The rows are locked as they are chosen, so a reinstall racing the purge either waits and
    then finds no business (a new one is made), or holds the row first and is skipped here —
    its business is active once it commits, and no later batch chooses it.
    """
    from django.conf import settings

    size, budget = settings.WIX_PURGE_BATCH_BUSINESSES, settings.WIX_PURGE_BATCH_PROPOSALS
    with transaction.atomic():
        candidates = list(
            Business.objects.filter(status=Business.Status.UNINSTALLED, uninstalled_at__lt=cutoff)
            .order_by("uninstalled_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", "instance_id")[:size]
        )
        if not candidates:
            return 0, False
        sizes = proposal_counts(business_ids=[pk for pk, _ in candidates])
        chosen: list[tuple[int, str]] = []
        proposals = 0
        for pk, instance_id in candidates:
            if chosen and proposals + sizes.get(pk, 0) > budget:
                break
            chosen.append((pk, instance_id))
            proposals += sizes.get(pk, 0)
        ids = [pk for pk, _ in chosen]
        # First what would stop the businesses' cascade (proposals_purge says why).
        proposals_purge(business_ids=ids)
        Business.objects.filter(pk__in=ids).delete()
        drop_tokens(instance_ids=[instance_id for _, instance_id in chosen])
    for pk, instance_id in chosen:
        log.info("wix_business_purged", business_id=pk, instance_id=instance_id)
    return len(chosen), len(chosen) < len(candidates) or len(candidates) == size
