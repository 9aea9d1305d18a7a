"""Writes for proposals: one function per operation, each owning its transaction, its guard,
its activity row and the work it causes (deliveries recorded in the same transaction)."""

import secrets
import zoneinfo
from datetime import date, datetime
from decimal import Decimal

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Business, User
from accounts.selectors import owner_emails_for
from common.html import sanitize_rich_text
from common.money import compute_totals, supported_locale
from common.text import one_line
from proposals import branding, reminders, rules, signals
from proposals.delivery.jobs import proposals_expire
from proposals.delivery.services import delivery_record
from proposals.models import (
    Acceptance,
    Activity,
    Client,
    Delivery,
    LineItem,
    Proposal,
    ProposalSequence,
    ProposalSettings,
    ProposalTemplate,
    ProposalVersion,
    ProposalView,
    Section,
)
from proposals.timeline import activity_record

log = structlog.get_logger(__name__)

Status = Proposal.Status
EDITABLE = (Status.DRAFT, Status.SENT, Status.VIEWED)
OPEN = (Status.SENT, Status.VIEWED)


class ProposalError(Exception):
    """A refused operation; ``message`` is written for the person who tried it."""

    code = "proposal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransitionError(ProposalError):
    code = "invalid_transition"


class ProposalLocked(ProposalError):
    code = "proposal_locked"


class PlanLimitReached(ProposalError):
    code = "plan_limit_reached"


class ConcurrentEditError(ProposalError):
    code = "concurrent_edit"


class ClientInUse(ProposalError):
    code = "client_in_use"


# --- helpers -------------------------------------------------------------------------------


def _activity(
    proposal: Proposal,
    kind: str,
    *,
    actor_type: str,
    actor_user: User | None = None,
    version: ProposalVersion | None = None,
    **details: object,
) -> Activity:
    return activity_record(
        business_id=proposal.business_id,
        proposal_id=proposal.pk,
        version_id=version.pk if version else None,
        kind=kind,
        actor_type=actor_type,
        actor_user=actor_user,
        details={k: v for k, v in details.items() if v not in (None, "")},
    )


def _user_actor(user: User | None) -> str:
    return Activity.Actor.USER if user is not None else Activity.Actor.SYSTEM


def _clean_text(value: str, field: str, max_length: int = rules.MAX_TEXT) -> str:
    value = value or ""
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "A proposal needs a title."})
    if len(title) > 200:
        raise ValidationError({"title": "At most 200 characters."})
    return title


def _lock(proposal: Proposal) -> Proposal:
    # FOR NO KEY UPDATE: writers still wait for each other, but a foreign-key check (FOR KEY
    # SHARE, e.g. a delivery drain's activity rows at COMMIT) never waits for this lock, so
    # the two cannot deadlock (found by manage.py chaos: a 5xx on accept, a resent email).
    return (
        Proposal.objects.select_for_update(no_key=True)
        .select_related("business", "client")
        .get(pk=proposal.pk)
    )


def owner_email_for(business: Business) -> str:
    return owner_emails_for(businesses=[business])[business.pk]


def _write_sections(proposal: Proposal, sections: list[dict]) -> Decimal:
    """Replace the working copy's sections and items; return the new total."""
    Section.objects.filter(proposal=proposal).delete()
    items: list[LineItem] = []
    for position, section_data in enumerate(sections):
        section = Section.objects.create(
            proposal=proposal, title=section_data["title"], position=position
        )
        for item_position, item in enumerate(section_data["items"]):
            items.append(LineItem(section=section, position=item_position, **item))
    LineItem.objects.bulk_create(items)
    lines = rules.line_inputs([_item_dict(item) for item in items])
    return compute_totals(lines, proposal.currency).total


def _item_dict(item: LineItem) -> dict:
    return {
        "key": str(item.pk) if item.pk else "",
        "name": item.name,
        "description": item.description,
        "quantity": str(item.quantity),
        "unit_price": str(item.unit_price),
        "discount_percent": str(item.discount_percent),
        "tax_rate": str(item.tax_rate),
        "optional": item.optional,
        "selected": item.selected,
    }


def working_copy_sections(proposal: Proposal) -> list[dict]:
    sections = Section.objects.filter(proposal=proposal).prefetch_related("items")
    return [
        {"title": s.title, "items": [_item_dict(item) for item in s.items.all()]} for s in sections
    ]


def _validate_valid_until(valid_until: date | None) -> date | None:
    if valid_until is not None and not isinstance(valid_until, date):
        raise ValidationError({"valid_until": "Enter a valid date."})
    if valid_until is not None and valid_until > timezone.localdate() + rules.MAX_VALIDITY:
        raise ValidationError({"valid_until": "Choose a date within the next ten years."})
    return valid_until


# --- clients, templates, settings ----------------------------------------------------------


def _clean_client_fields(name: str, email: str, company: str) -> dict:
    errors = {}
    name = (name or "").strip()
    email = (email or "").strip().lower()
    if not name:
        errors["name"] = "A client needs a name."
    elif len(name) > 200:
        errors["name"] = "At most 200 characters."
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    if len(company or "") > 200:
        errors["company"] = "At most 200 characters."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "email": email, "company": (company or "").strip()}


def client_create(
    *, business: Business, acting_user: User | None, name: str, email: str, company: str = ""
) -> Client:
    client = Client.objects.create(business=business, **_clean_client_fields(name, email, company))
    log.info("client_created", client_id=client.pk)
    return client


def client_update(
    *, client: Client, acting_user: User | None, name: str, email: str, company: str = ""
) -> Client:
    for field, value in _clean_client_fields(name, email, company).items():
        setattr(client, field, value)
    client.save()
    log.info("client_updated", client_id=client.pk)
    return client


def _clean_template_fields(name, title, intro, terms, sections) -> dict:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A template needs a name."})
    cleaned = rules.clean_sections(sections)
    return {
        "name": name[:200],
        "title": (title or "").strip()[:200],
        "intro": sanitize_rich_text(_clean_text(intro, "intro")),
        "terms": sanitize_rich_text(_clean_text(terms, "terms")),
        "sections": [
            {"title": s["title"], "items": [_json_item(i) for i in s["items"]]} for s in cleaned
        ],
    }


def _json_item(item: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in item.items()}


def template_from_proposal(
    *, proposal: Proposal, acting_user: User | None, name: str
) -> ProposalTemplate:
    """A template of a proposal's working copy: its title, texts, sections and items."""
    return template_create(
        business=proposal.business,
        acting_user=acting_user,
        name=name,
        title=proposal.title,
        intro=proposal.intro,
        terms=proposal.terms,
        sections=working_copy_sections(proposal),
    )


def template_create(
    *,
    business: Business,
    acting_user: User | None,
    name: str,
    title: str = "",
    intro: str = "",
    terms: str = "",
    sections: list | None = None,
) -> ProposalTemplate:
    fields = _clean_template_fields(name, title, intro, terms, sections)
    return ProposalTemplate.objects.create(business=business, **fields)


def template_update(
    *,
    template: ProposalTemplate,
    acting_user: User | None,
    name: str,
    title: str = "",
    intro: str = "",
    terms: str = "",
    sections: list | None = None,
) -> ProposalTemplate:
    for field, value in _clean_template_fields(name, title, intro, terms, sections).items():
        setattr(template, field, value)
    template.save()
    return template


def template_delete(*, template: ProposalTemplate, acting_user: User | None) -> None:
    template.delete()


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
    errors = {}
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
        if not isinstance(days, int) or days < 0 or days > 365:
            errors[field] = "Enter a number of days between 0 (off) and 365."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        prefs, _ = ProposalSettings.objects.get_or_create(business=business)
        prefs.brand_name = one_line(brand_name, max_length=200)
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
        if business.currency != currency:
            Business.objects.filter(pk=business.pk).update(currency=currency)
            business.currency = currency
        owner_choices: dict = {}
        if time_zone is not None and business.timezone != time_zone:
            owner_choices.update(timezone=time_zone, timezone_chosen=True)
        if chosen_locale is not None:
            owner_choices.update(locale=chosen_locale, locale_chosen=True)
        elif locale == "":
            owner_choices.update(locale_chosen=False)  # the next Wix refresh fills it
        if owner_choices:
            Business.objects.filter(pk=business.pk).update(**owner_choices)
            for field, value in owner_choices.items():
                setattr(business, field, value)
    log.info("proposal_settings_updated", business_id=business.pk)
    return prefs


# --- proposals -----------------------------------------------------------------------------


def _next_number(business: Business) -> int:
    ProposalSequence.objects.get_or_create(business=business)
    # The UPDATE locks the business's sequence row until commit: concurrent creators queue.
    ProposalSequence.objects.filter(business=business).update(last_number=F("last_number") + 1)
    return ProposalSequence.objects.get(business=business).last_number


def proposal_create(
    *,
    business: Business,
    acting_user: User | None,
    client: Client,
    title: str = "",
    currency: str | None = None,
    valid_until: date | None = None,
    intro: str = "",
    terms: str = "",
    sections: list | None = None,
    template: ProposalTemplate | None = None,
) -> Proposal:
    if client is None or client.business_id != business.pk:
        raise ValidationError({"client": "Choose one of your clients."})
    if template is not None:
        if template.business_id != business.pk:
            raise ValidationError({"template": "Choose one of your templates."})
        title = title or template.title or template.name
        intro = intro or template.intro
        terms = terms or template.terms
        sections = sections if sections else template.sections
    fields = {
        "title": _clean_title(title),
        "currency": rules.clean_currency(currency or business.currency),
        "valid_until": _validate_valid_until(valid_until),
        "intro": sanitize_rich_text(_clean_text(intro, "intro")),
        "terms": sanitize_rich_text(_clean_text(terms, "terms")),
    }
    cleaned_sections = rules.clean_sections(sections)
    with transaction.atomic():
        proposal = Proposal.objects.create(
            business=business,
            number=_next_number(business),
            client=client,
            created_by=acting_user,
            **fields,
        )
        proposal.total = _write_sections(proposal, cleaned_sections)
        proposal.save(update_fields=["total"])
        _activity(
            proposal,
            Activity.Kind.CREATED,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            template=template.name if template else None,
        )
    log.info("proposal_created", proposal_id=proposal.pk, number=proposal.number)
    return proposal


def proposal_update(
    *,
    proposal: Proposal,
    acting_user: User | None,
    title: str,
    client: Client,
    currency: str,
    valid_until: date | None,
    intro: str,
    terms: str,
    sections: list | None,
    expected_revision: int | None = None,
    drafts_only: bool = False,
) -> Proposal:
    """Edit the working copy. A sent proposal keeps showing its sent version until re-sent;
    ``drafts_only`` is for doors (the API) that may change drafts and nothing else."""
    if client is None or client.business_id != proposal.business_id:
        raise ValidationError({"client": "Choose one of your clients."})
    fields = {
        "title": _clean_title(title),
        "client": client,
        "currency": rules.clean_currency(currency),
        "valid_until": _validate_valid_until(valid_until),
        "intro": sanitize_rich_text(_clean_text(intro, "intro")),
        "terms": sanitize_rich_text(_clean_text(terms, "terms")),
    }
    cleaned_sections = rules.clean_sections(sections)
    with transaction.atomic():
        locked = _lock(proposal)
        if expected_revision is not None and locked.revision != expected_revision:
            raise ConcurrentEditError(
                "This proposal was changed by someone else; reload it and try again."
            )
        if locked.is_locked:
            raise ProposalLocked("An accepted proposal can no longer be changed.")
        if locked.status not in EDITABLE:
            raise TransitionError(
                f"A {locked.get_status_display().lower()} proposal cannot be edited; "
                "duplicate it to start again."
            )
        if drafts_only and locked.status != Status.DRAFT:
            raise TransitionError(
                "Only a draft can be updated here; this proposal was already sent."
            )
        for field, value in fields.items():
            setattr(locked, field, value)
        locked.total = _write_sections(locked, cleaned_sections)
        locked.has_unsent_changes = locked.status != Status.DRAFT
        locked.revision = F("revision") + 1
        locked.save()
        locked.refresh_from_db()
        _activity(
            locked,
            Activity.Kind.EDITED,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
        )
    log.info("proposal_updated", proposal_id=locked.pk)
    return locked


def sends_this_month(business: Business, *, now: datetime | None = None) -> int:
    """Proposals sent for the first time this calendar month (in the business's zone)."""
    zone = rules.business_zone(business.timezone)
    local = (now or timezone.now()).astimezone(zone)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return ProposalVersion.objects.filter(
        business=business, number=1, sent_at__gte=month_start
    ).count()


def send_limit_for(business: Business) -> int | None:
    if business.plan == Business.Plan.PAID:
        return None
    return settings.FREE_PLAN_MONTHLY_SENDS


def proposal_snapshot(*, proposal: Proposal, sections: list[dict] | None = None) -> dict:
    """Everything the client page shows, as sending freezes it (and the preview renders it)."""
    if sections is None:
        sections = working_copy_sections(proposal)
    prefs = ProposalSettings.objects.filter(business_id=proposal.business_id).first()
    business = proposal.business
    snapshot = {
        "number": proposal.display_number,
        "title": proposal.title,
        "currency": proposal.currency,
        "valid_until": proposal.valid_until.isoformat() if proposal.valid_until else None,
        "intro": proposal.intro,
        "terms": proposal.terms,
        "client": {
            "name": proposal.client.name,
            "email": proposal.client.email,
            "company": proposal.client.company,
        },
        "business": {
            "name": (prefs.brand_name if prefs and prefs.brand_name else business.site_name)
            or "Your supplier",
            "brand_color": prefs.brand_color if prefs else "#116dff",
            "logo": prefs.logo if prefs else "",
            "site_url": business.site_url,
        },
        "sections": sections,
    }
    snapshot["totals"] = rules.snapshot_totals(snapshot).as_dict()
    return snapshot


def proposal_send(
    *,
    proposal: Proposal,
    acting_user: User | None,
    message: str = "",
    expected_revision: int | None = None,
) -> ProposalVersion:
    """Freeze the working copy as a new version and record the email to the client.

    ``expected_revision`` is the revision the sender saw: a double-clicked or replayed send
    of an unchanged proposal is refused instead of sending a second version.
    """
    message = _clean_text(message, "message", 5000).strip()
    with transaction.atomic():
        locked = _lock(proposal)
        if expected_revision is not None and locked.revision != expected_revision:
            raise ConcurrentEditError(
                "This proposal changed since the page was loaded (was it already sent?); "
                "reload it and try again."
            )
        business = Business.objects.select_for_update(no_key=True).get(pk=locked.business_id)
        if locked.is_locked:
            raise ProposalLocked("An accepted proposal can no longer be sent again.")
        if locked.status not in EDITABLE:
            raise TransitionError(
                f"A {locked.get_status_display().lower()} proposal cannot be sent; duplicate it."
            )
        if not business.is_active:
            raise TransitionError("The app is uninstalled for this site; reinstall it to send.")
        if not locked.client.email:
            raise ValidationError({"client": "The client has no email address."})
        expiry = rules.expires_at(locked.valid_until, business.timezone)
        if expiry is not None and expiry <= timezone.now():
            raise ValidationError({"valid_until": "The valid-until date has already passed."})
        sections = working_copy_sections(locked)
        if not any(section["items"] for section in sections):
            raise ValidationError({"sections": "Add at least one line item before sending."})
        first_send = locked.current_version_id is None
        limit = send_limit_for(business)
        if first_send and limit is not None and sends_this_month(business) >= limit:
            raise PlanLimitReached(
                f"Your free plan allows {limit} proposals a month and they are all sent. "
                "Upgrade to send more."
            )
        number = ProposalVersion.objects.filter(proposal=locked).count() + 1
        snapshot = proposal_snapshot(proposal=locked, sections=sections)
        now = timezone.now()
        version = ProposalVersion.objects.create(
            proposal=locked,
            business=business,
            number=number,
            snapshot=snapshot,
            content_hash=rules.canonical_hash(snapshot),
            token=secrets.token_urlsafe(32),
            recipient_email=locked.client.email,
            message=message,
            sent_by=acting_user,
            sent_at=now,
        )
        Proposal.objects.filter(pk=locked.pk).update(
            status=Status.SENT,
            current_version=version,
            has_unsent_changes=False,
            sent_at=now,
            revision=F("revision") + 1,
            **reminders.due_times(business_id=business.pk, sent_at=now),
        )
        locked.refresh_from_db()
        _activity(
            locked,
            Activity.Kind.SENT,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            version=version,
            version_number=number,
            recipient=version.recipient_email,
        )
        delivery_record(
            business=business,
            kind=Delivery.Kind.PROPOSAL,
            recipient=version.recipient_email,
            idempotency_key=f"proposal:{version.pk}",
            proposal=locked,
            version=version,
            context={"message": message},
        )
        signals.proposal_sent.send(sender=Proposal, proposal=locked)
    log.info("proposal_sent", proposal_id=locked.pk, version=number)
    return version


def _cancel_open_deliveries(proposal: Proposal) -> int:
    return Delivery.objects.filter(
        proposal=proposal,
        kind__in=[Delivery.Kind.PROPOSAL, Delivery.Kind.REMINDER],
        state__in=[Delivery.State.PENDING, Delivery.State.FAILED_RETRYING],
    ).update(state=Delivery.State.CANCELLED, updated_at=timezone.now())


def proposal_withdraw(*, proposal: Proposal, acting_user: User | None) -> Proposal:
    with transaction.atomic():
        locked = _lock(proposal)
        if locked.status not in OPEN:
            raise TransitionError(
                f"Only a sent proposal can be withdrawn; this one is "
                f"{locked.get_status_display().lower()}."
            )
        now = timezone.now()
        locked.status = Status.WITHDRAWN
        locked.withdrawn_at = now
        locked.revision = F("revision") + 1
        locked.remind_unopened_due_at = locked.remind_unanswered_due_at = None
        locked.save(
            update_fields=[
                "status", "withdrawn_at", "revision", "updated_at",
                "remind_unopened_due_at", "remind_unanswered_due_at",
            ]
        )  # fmt: skip
        ProposalVersion.objects.filter(proposal=locked, token_revoked_at__isnull=True).update(
            token_revoked_at=now
        )
        cancelled = _cancel_open_deliveries(locked)
        _activity(
            locked,
            Activity.Kind.WITHDRAWN,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            cancelled_deliveries=cancelled or None,
        )
        locked.refresh_from_db()
        version = locked.current_version
        # The client has the link (it was sent): they hear that it no longer stands.
        delivery_record(
            business=locked.business,
            kind=Delivery.Kind.CLIENT_WITHDRAWN,
            recipient=version.recipient_email,
            idempotency_key=f"{Delivery.Kind.CLIENT_WITHDRAWN}:{locked.pk}:{version.pk}",
            proposal=locked,
            version=version,
        )
    log.info("proposal_withdrawn", proposal_id=locked.pk)
    return locked


def proposal_duplicate(
    *, proposal: Proposal, acting_user: User | None, title: str | None = None
) -> Proposal:
    """A new draft with the same client and content; ``title`` is the copy's own (the title
    goes into the client's email subject, so the dashboard asks for it)."""
    with transaction.atomic():
        copy = proposal_create(
            business=proposal.business,
            acting_user=acting_user,
            client=proposal.client,
            title=f"{proposal.title} (copy)"[:200] if title is None else title,
            currency=proposal.currency,
            valid_until=None,
            intro=proposal.intro,
            terms=proposal.terms,
            sections=working_copy_sections(proposal),
        )
        _activity(
            proposal,
            Activity.Kind.DUPLICATED,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            copy_number=copy.display_number,
        )
    return copy


def proposal_mark_viewed(*, version: ProposalVersion, ip: str | None, user_agent: str) -> bool:
    """Log a client's view; the first view of the current version moves sent → viewed.

    Every later view is the view record alone: one INSERT, no transaction around it. The
    proposal the version was read with decides: a proposal that is not "sent" with this
    version current can never become so again for this version (sending anew makes a new
    version), so nothing is missed; one that is goes through the guarded UPDATE as before.
    """
    view = ProposalView(
        version=version,
        proposal_id=version.proposal_id,
        business_id=version.business_id,
        ip=ip,
        user_agent=(user_agent or "")[:500],
    )
    proposal = version.proposal
    if proposal.status != Status.SENT or proposal.current_version_id != version.pk:
        view.save(force_insert=True)
        return False
    with transaction.atomic():
        view.save(force_insert=True)
        now = timezone.now()
        moved = Proposal.objects.filter(
            pk=version.proposal_id, status=Status.SENT, current_version=version
        ).update(
            status=Status.VIEWED,
            viewed_at=now,
            revision=F("revision") + 1,
            **reminders.due_cleared("unopened"),
        )
        if moved:
            proposal = Proposal.objects.select_related("business").get(pk=version.proposal_id)
            _activity(
                proposal, Activity.Kind.VIEWED, actor_type=Activity.Actor.CLIENT, version=version
            )
            _notify_owner(proposal, Delivery.Kind.OWNER_VIEWED, version)
    return bool(moved)


def _notify_owner(
    proposal: Proposal, kind: str, version: ProposalVersion, **context: object
) -> None:
    recipient = owner_email_for(proposal.business)
    if not recipient:
        log.warning("owner_notification_skipped", proposal_id=proposal.pk, reason="no owner email")
        return
    delivery_record(
        business=proposal.business,
        kind=kind,
        recipient=recipient,
        idempotency_key=f"{kind}:{proposal.pk}:{version.pk}",
        proposal=proposal,
        version=version,
        context={k: v for k, v in context.items() if v},
    )


def _answerable(version: ProposalVersion) -> Proposal:
    """Lock the proposal and refuse unless this version can still be answered."""
    proposal = _lock(version.proposal)
    if version.token_revoked_at is not None or proposal.status == Status.WITHDRAWN:
        raise TransitionError("This proposal was withdrawn and can no longer be answered.")
    if proposal.status in (Status.ACCEPTED, Status.DECLINED):
        raise TransitionError(f"This proposal was already {proposal.status}.")
    if proposal.current_version_id != version.pk:
        raise TransitionError("A newer version of this proposal was sent; open the latest link.")
    expiry = rules.expires_at(proposal.valid_until, proposal.business.timezone)
    if proposal.status == Status.EXPIRED or (expiry is not None and expiry <= timezone.now()):
        raise TransitionError("This proposal has expired and can no longer be answered.")
    if proposal.status not in OPEN:
        raise TransitionError("This proposal cannot be answered.")
    return proposal


def proposal_accept(
    *,
    version: ProposalVersion,
    signed_name: str,
    agreed: bool,
    selected_item_keys: list[str] | set[str],
    ip: str | None,
    user_agent: str,
) -> Acceptance:
    signed_name = (signed_name or "").strip()
    errors = {}
    if not signed_name:
        errors["signed_name"] = "Type your full name to sign."
    elif len(signed_name) > 200:
        errors["signed_name"] = "At most 200 characters."
    if not agreed:
        errors["agreed"] = "Tick the box to confirm you agree."
    optional_keys = {
        item["key"]
        for section in version.snapshot.get("sections", [])
        for item in section["items"]
        if item["optional"]
    }
    selected = {str(key) for key in selected_item_keys or []}
    if not selected <= optional_keys:
        errors["selected_items"] = "Some selected items are not part of this proposal."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        proposal = _answerable(version)
        totals = rules.snapshot_totals(version.snapshot, selected)
        accepted_content = {
            "snapshot": version.snapshot,
            "selected_item_keys": sorted(selected),
            "total": str(totals.total),
        }
        now = timezone.now()
        acceptance = Acceptance.objects.create(
            proposal=proposal,
            version=version,
            business_id=proposal.business_id,
            signed_name=signed_name,
            email=version.recipient_email,
            ip=ip,
            user_agent=(user_agent or "")[:500],
            accepted_at=now,
            selected_item_keys=sorted(selected),
            total=totals.total,
            content_hash=rules.canonical_hash(accepted_content),
        )
        # From now on the proposal is worth what was signed: lists, the API's ``total`` and
        # the admin read this column, so it carries the optional items the client chose.
        Proposal.objects.filter(pk=proposal.pk).update(
            status=Status.ACCEPTED, answered_at=now, revision=F("revision") + 1,
            total=totals.total, **reminders.due_cleared(),
        )  # fmt: skip
        proposal.refresh_from_db()
        _activity(
            proposal,
            Activity.Kind.ACCEPTED,
            actor_type=Activity.Actor.CLIENT,
            version=version,
            signed_name=signed_name,
            total=str(totals.total),
        )
        _cancel_open_deliveries(proposal)
        delivery_record(
            business=proposal.business,
            kind=Delivery.Kind.ACCEPTANCE_CONFIRMATION,
            recipient=version.recipient_email,
            idempotency_key=f"acceptance_confirmation:{proposal.pk}",
            proposal=proposal,
            version=version,
        )
        _notify_owner(
            proposal,
            Delivery.Kind.OWNER_ACCEPTED,
            version,
            signed_name=signed_name,
            total=str(totals.total),
            currency=version.snapshot.get("currency", ""),
            chosen_options=[
                item["name"]
                for section in version.snapshot.get("sections", [])
                for item in section["items"]
                if item["optional"] and item["key"] in selected
            ],
        )
        signals.proposal_accepted.send(sender=Proposal, proposal=proposal)
    log.info("proposal_accepted", proposal_id=proposal.pk, version_id=version.pk)
    return acceptance


def proposal_decline(
    *, version: ProposalVersion, reason: str, ip: str | None, user_agent: str
) -> Proposal:
    reason = _clean_text(reason, "reason", 5000).strip()
    with transaction.atomic():
        proposal = _answerable(version)
        now = timezone.now()
        Proposal.objects.filter(pk=proposal.pk).update(
            status=Status.DECLINED, answered_at=now, decline_reason=reason,
            revision=F("revision") + 1, **reminders.due_cleared(),
        )  # fmt: skip
        proposal.refresh_from_db()
        _activity(
            proposal,
            Activity.Kind.DECLINED,
            actor_type=Activity.Actor.CLIENT,
            version=version,
            reason=reason,
            ip=ip,
        )
        _cancel_open_deliveries(proposal)
        _notify_owner(proposal, Delivery.Kind.OWNER_DECLINED, version, reason=reason)
    log.info("proposal_declined", proposal_id=proposal.pk, version_id=version.pk)
    return proposal


def proposal_expire(*, proposal: Proposal, now: datetime | None = None) -> bool:
    """Expire an open proposal past its valid-until day; False when there is nothing to do.

    The scheduled job's batch path for one proposal (``proposals.delivery.jobs``), so the two
    can never disagree about what expiring does.
    """
    now = now or timezone.now()
    with transaction.atomic():
        expired = proposals_expire(proposals=[_lock(proposal)], now=now)
    if expired:
        log.info("proposal_expired", proposal_id=proposal.pk)
    return bool(expired)


def proposal_delete(
    *, proposal: Proposal, acting_user: User | None, expected_revision: int | None = None
) -> None:
    """Delete a draft (never sent: no client has seen it, no version exists)."""
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if expected_revision is not None and locked.revision != expected_revision:
            raise ConcurrentEditError(
                "This proposal was changed by someone else; reload it and try again."
            )
        if locked.status != Proposal.Status.DRAFT or locked.current_version_id is not None:
            raise TransitionError(
                f"Only a draft can be deleted; this proposal is "
                f"{locked.get_status_display().lower()}. Withdraw it instead."
            )
        locked.delete()
    log.info(
        "proposal_deleted",
        proposal_id=proposal.pk,
        business_id=proposal.business_id,
        acting_user_id=getattr(acting_user, "pk", None),
    )


def client_delete(*, client: Client, acting_user: User | None) -> None:
    """Delete a client that no proposal refers to (proposals keep their client)."""
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if Proposal.objects.filter(client=locked).exists():
            raise ClientInUse("This client has proposals and cannot be deleted.")
        locked.delete()
    log.info(
        "client_deleted",
        client_id=client.pk,
        business_id=client.business_id,
        acting_user_id=getattr(acting_user, "pk", None),
    )
