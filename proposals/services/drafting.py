"""Writes of a proposal's working copy: create, edit, duplicate, delete a draft."""

from datetime import date
from decimal import Decimal

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import Business, User
from common.html import sanitize_rich_text
from common.money import compute_totals
from common.text import without_line_breaks
from proposals import rules, schedule
from proposals.models import (
    Activity,
    Client,
    LineItem,
    Proposal,
    ProposalSequence,
    ProposalTemplate,
    Section,
)
from proposals.selectors import item_dict, working_copy_sections
from proposals.services._common import (
    EDITABLE,
    Status,
    _activity,
    _clean_text,
    _lock,
    _user_actor,
    _user_id,
)
from proposals.services.errors import ConcurrentEditError, ProposalLocked, TransitionError

log = structlog.get_logger(__name__)


def _clean_title(title: str) -> str:
    # It reaches email subjects: one line when saved (and cleaned for the header when used).
    title = without_line_breaks(title)
    if not title:
        raise ValidationError({"title": "A proposal needs a title."})
    if len(title) > rules.MAX_NAME:
        raise ValidationError({"title": rules.too_long(rules.MAX_NAME)})
    return title


def _validate_valid_until(valid_until: date | None) -> date | None:
    if valid_until is not None and not isinstance(valid_until, date):
        raise ValidationError({"valid_until": "Enter a valid date."})
    if valid_until is not None and valid_until > timezone.localdate() + rules.MAX_VALIDITY:
        raise ValidationError({"valid_until": "Choose a date within the next ten years."})
    return valid_until


def _next_number(business: Business) -> int:
    ProposalSequence.objects.get_or_create(business=business)
    # The UPDATE locks the business's sequence row until commit: concurrent creators queue.
    ProposalSequence.objects.filter(business=business).update(last_number=F("last_number") + 1)
    return ProposalSequence.objects.get(business=business).last_number


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
    lines = rules.line_inputs([item_dict(item) for item in items])
    return compute_totals(lines, proposal.currency).total


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
    payment_schedule: list | None = None,
    template: ProposalTemplate | None = None,
) -> Proposal:
    """A new draft; ``payment_schedule`` None takes the template's (or none)."""
    if client is None or client.business_id != business.pk:
        raise ValidationError({"client": "Choose one of your clients."})
    if template is not None:
        if template.business_id != business.pk:
            raise ValidationError({"template": "Choose one of your templates."})
        title = title or template.title or template.name
        intro = intro or template.intro
        terms = terms or template.terms
        sections = sections if sections else template.sections
        if payment_schedule is None:
            payment_schedule = template.payment_schedule
    currency = rules.clean_currency(currency or business.currency)
    fields: dict[str, object] = {
        "title": _clean_title(title),
        "currency": currency,
        "valid_until": _validate_valid_until(valid_until),
        "intro": sanitize_rich_text(_clean_text(intro, "intro")),
        "terms": sanitize_rich_text(_clean_text(terms, "terms")),
    }
    cleaned_sections = rules.clean_sections(sections)
    fields["payment_schedule"] = schedule.clean_schedule(
        payment_schedule,
        currency=currency,
        sections=cleaned_sections,
        today=rules.business_today(business.timezone),
    )
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
    payment_schedule: list | None = None,
    expected_revision: int | None = None,
    drafts_only: bool = False,
) -> Proposal:
    """Edit the working copy. A sent proposal keeps showing its sent version until re-sent;
    ``drafts_only`` is for doors (the API) that may change drafts and nothing else.
    ``payment_schedule`` None keeps the working copy's, checked again against the new items."""
    if client is None or client.business_id != proposal.business_id:
        raise ValidationError({"client": "Choose one of your clients."})
    currency = rules.clean_currency(currency)
    fields = {
        "title": _clean_title(title),
        "client": client,
        "currency": currency,
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
        locked.payment_schedule = schedule.clean_schedule(
            locked.payment_schedule if payment_schedule is None else payment_schedule,
            currency=currency,
            sections=cleaned_sections,
            today=rules.business_today(locked.business.timezone),
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


def proposal_duplicate(
    *, proposal: Proposal, acting_user: User | None, title: str | None = None
) -> Proposal:
    """A new draft with the same client and content; ``title`` is the copy's own (the title
    goes into the client's email subject, so the dashboard asks for it). A payment schedule
    that no longer holds (a due date passed) is left out of the copy."""
    sections = working_copy_sections(proposal)
    payment_schedule = proposal.payment_schedule
    schedule_dropped = None
    try:
        schedule.clean_schedule(
            payment_schedule,
            currency=proposal.currency,
            sections=sections,
            today=rules.business_today(proposal.business.timezone),
        )
    except ValidationError as exc:
        # An old proposal's due dates have passed: the copy starts without a schedule rather
        # than not at all (its editor asks for a new one).
        payment_schedule, schedule_dropped = [], " ".join(exc.messages)
    with transaction.atomic():
        copy = proposal_create(
            business=proposal.business,
            acting_user=acting_user,
            client=proposal.client,
            title=f"{proposal.title} (copy)"[: rules.MAX_NAME] if title is None else title,
            currency=proposal.currency,
            valid_until=None,
            intro=proposal.intro,
            terms=proposal.terms,
            sections=sections,
            payment_schedule=payment_schedule,
        )
        _activity(
            proposal,
            Activity.Kind.DUPLICATED,
            actor_type=_user_actor(acting_user),
            actor_user=acting_user,
            copy_number=copy.display_number,
            schedule_not_copied=schedule_dropped,
        )
    return copy


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
        acting_user_id=_user_id(acting_user),
    )
