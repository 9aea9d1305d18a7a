"""The email of a delivery: its subject, text and HTML, branded for the business, and the
Message-ID that stays the same on every retry."""

import hashlib
from datetime import date, datetime
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from common.money import in_locale_of
from common.text import one_line
from proposals import branding
from proposals.models import Delivery, ProposalSettings

# Emails to the business's client carry the link to the proposal page.
CLIENT_KINDS = frozenset(
    {
        Delivery.Kind.PROPOSAL,
        Delivery.Kind.REMINDER,
        Delivery.Kind.ACCEPTANCE_CONFIRMATION,
        Delivery.Kind.CLIENT_WITHDRAWN,
    }
)

SUBJECTS: dict[str, str] = {
    Delivery.Kind.PROPOSAL: "{business}: proposal {number} — {title}",
    Delivery.Kind.REMINDER: "Reminder from {business}: proposal {number} — {title}",
    Delivery.Kind.ACCEPTANCE_CONFIRMATION: "You accepted proposal {number} from {business}",
    Delivery.Kind.OWNER_VIEWED: "{client} opened proposal {number}",
    Delivery.Kind.OWNER_ACCEPTED: "{client} accepted proposal {number}",
    Delivery.Kind.OWNER_DECLINED: "{client} declined proposal {number}",
    Delivery.Kind.OWNER_EXPIRED: "Proposal {number} to {client} expired unanswered",
    Delivery.Kind.CLIENT_WITHDRAWN: "{business} withdrew proposal {number} — {title}",
}
# A version sent after the first says so from the subject on.
REVISED_PROPOSAL_SUBJECT = "{business}: revised proposal {number} (version {version}) — {title}"


def message_id_for(delivery: Delivery, *, resent_at: datetime | None = None) -> str:
    """Stable per delivery: a retry carries the same id, so receivers can drop a duplicate.

    A bounced email sent again (``resent_at``, the retry's time) is a new message: the
    bounced one's late tracking events must not land on it, nor a receiver drop it.
    """
    seed = delivery.idempotency_key
    if resent_at is not None:
        seed = f"{seed}|resent:{resent_at.isoformat()}"
    digest = hashlib.sha256(seed.encode()).hexdigest()[:20]
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] or "localhost"
    return f"<delivery.{delivery.pk}.{digest}@{domain}>"


def _brand(delivery: Delivery) -> tuple[str, str, str]:
    """The business's name, colour and logo address as its emails show them."""
    business = delivery.business
    try:
        prefs = business.proposal_settings
    except ProposalSettings.DoesNotExist:
        prefs = None
    name = branding.brand_name(
        chosen=prefs.brand_name if prefs else "", site_name=business.site_name
    )
    color = prefs.brand_color if prefs else "#116dff"
    return name, color, branding.logo_url(prefs.logo if prefs else "", absolute=True)


def _date_or_none(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# Amounts in the email as the business writes them (common.money), wherever it is built.
@in_locale_of(lambda delivery: delivery.business.locale)
def build_message(delivery: Delivery) -> EmailMultiAlternatives:
    """The email for a delivery: subject, text and HTML, branded with the business name."""
    proposal = delivery.proposal
    version = delivery.version or (proposal.current_version if proposal else None)
    business_name, brand_color, logo_url = _brand(delivery)
    client = proposal.client if proposal else None
    if delivery.kind in CLIENT_KINDS:
        link = f"{settings.SITE_URL}/p/{version.token}" if version else settings.SITE_URL
    else:
        link = (
            f"{settings.SITE_URL}/app/proposals/{proposal.pk}/" if proposal else settings.SITE_URL
        )
    # The signed copy as a PDF (proposals.pdf): the client page's PDF address, by the token.
    pdf_link = (
        f"{link}/pdf" if delivery.kind == Delivery.Kind.ACCEPTANCE_CONFIRMATION and version else ""
    )
    sent = version.snapshot if version else {}
    context = {
        # What the client was sent (the version's), not the working copy edited since.
        "title": sent.get("title") or (proposal.title if proposal else ""),
        "valid_until": _date_or_none(sent.get("valid_until")) if version else None,
        "delivery": delivery,
        "business_name": business_name,
        "brand_color": brand_color,
        "logo_url": logo_url,
        "proposal": proposal,
        "version": version,
        "client_name": client.name if client else "",
        "link": link,
        "pdf_link": pdf_link,
        "personal_message": version.message if version else "",
        "extra": delivery.context or {},
    }
    subject = SUBJECTS.get(delivery.kind, "{business}: {title}")
    if delivery.kind == Delivery.Kind.PROPOSAL and version is not None and version.number > 1:
        subject = REVISED_PROPOSAL_SUBJECT
    subject = subject.format(
        version=version.number if version else "",
        business=business_name,
        number=proposal.display_number if proposal else "",
        title=context["title"],
        client=context["client_name"] or "Your client",
    )
    from_name, from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    # Names saved before they were cleaned on save (or from Wix) still reach headers: one line.
    display = (
        one_line(f"{business_name} via {from_name}") if delivery.kind in CLIENT_KINDS else from_name
    )
    headers = {"Message-ID": delivery.message_id or message_id_for(delivery)}
    reply_to = []
    if delivery.kind in CLIENT_KINDS and delivery.business.owner_email:
        reply_to = [delivery.business.owner_email]
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=render_to_string(f"emails/{delivery.kind}.txt", context),
        from_email=formataddr((display, from_address)),
        to=[delivery.recipient],
        reply_to=reply_to,
        headers=headers,
    )
    message.attach_alternative(
        render_to_string(f"emails/{delivery.kind}.html", context), "text/html"
    )
    return message
