"""Writes for a business's proposal templates."""

from decimal import Decimal

import structlog
from django.core.exceptions import ValidationError

from accounts.models import Business, User
from common.html import sanitize_rich_text
from proposals import rules, schedule
from proposals.models import Proposal, ProposalTemplate
from proposals.selectors import working_copy_sections
from proposals.services._common import _clean_text, _user_id

log = structlog.get_logger(__name__)


def _clean_template_fields(
    business: Business, name, title, intro, terms, sections, payment_schedule
) -> dict:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A template needs a name."})
    cleaned = rules.clean_sections(sections)
    # Checked as a proposal's would be: a proposal started from it starts valid.
    payment_schedule = schedule.clean_schedule(
        payment_schedule,
        currency=business.currency,
        sections=cleaned,
        today=rules.business_today(business.timezone),
    )
    return {
        "payment_schedule": payment_schedule,
        "name": name[: rules.MAX_NAME],
        "title": (title or "").strip()[: rules.MAX_NAME],
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
        payment_schedule=proposal.payment_schedule,
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
    payment_schedule: list | None = None,
) -> ProposalTemplate:
    fields = _clean_template_fields(business, name, title, intro, terms, sections, payment_schedule)
    template = ProposalTemplate.objects.create(business=business, **fields)
    log.info("template_created", template_id=template.pk, acting_user_id=_user_id(acting_user))
    return template


def template_update(
    *,
    template: ProposalTemplate,
    acting_user: User | None,
    name: str,
    title: str = "",
    intro: str = "",
    terms: str = "",
    sections: list | None = None,
    payment_schedule: list | None = None,
) -> ProposalTemplate:
    """``payment_schedule`` None keeps the template's, checked again against its new items."""
    if payment_schedule is None:
        payment_schedule = template.payment_schedule
    fields = _clean_template_fields(
        template.business, name, title, intro, terms, sections, payment_schedule
    )
    for field, value in fields.items():
        setattr(template, field, value)
    template.save()
    log.info("template_updated", template_id=template.pk, acting_user_id=_user_id(acting_user))
    return template


def template_delete(*, template: ProposalTemplate, acting_user: User | None) -> None:
    template_id = template.pk
    template.delete()
    log.info("template_deleted", template_id=template_id, acting_user_id=_user_id(acting_user))
