"""The dashboard's timeline reads as sentences, with an email's technical details folded
(issue 13 pt 12): no raw codes such as "Delivery kind: owner_viewed" or "Ip:"."""

import re

import pytest
from django.urls import reverse

from proposals import services
from proposals.timeline import activity_record
from tests.proposals.factories import make_sent_proposal

pytestmark = pytest.mark.django_db


def _timeline(owner_client, proposal) -> str:
    page = owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk]))
    html = page.content.decode()
    return html[html.index('<ol class="timeline">') : html.index("</ol>", html.index("timeline"))]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _email_event(proposal, kind: str, **details) -> None:
    """A delivery's timeline entry, with the details the pipeline records."""
    activity_record(
        business_id=proposal.business_id,
        proposal_id=proposal.pk,
        kind=kind,
        actor_type="system",
        details={"delivery_id": 1, **details},
    )


def test_timeline_reads_as_sentences(owner_client, business, owner):
    proposal = services.proposal_create(
        business=business,
        acting_user=owner,
        client=make_sent_proposal(business=business)[0].client,
        title="Roof repair",
        sections=[{"title": "", "items": [{"name": "Tiles", "unit_price": "100"}]}],
    )
    version = services.proposal_send(proposal=proposal, acting_user=owner)
    _email_event(
        proposal,
        "delivery_sent",
        delivery_kind="proposal",
        recipient=version.recipient_email,
        attempts=1,
        message_id="<delivery.1.abc@example.com>",
    )
    services.proposal_mark_viewed(version=version, ip="203.0.113.9", user_agent="UA")
    services.proposal_decline(version=version, reason="Too late", ip="203.0.113.9", user_agent="")
    text = _text(_timeline(owner_client, proposal))
    name = owner.get_full_name()
    assert f"{name} created the proposal." in text
    assert f"{name} sent version 1 to {version.recipient_email}." in text
    assert f"The proposal email went out to {version.recipient_email}." in text
    assert "The client opened version 1 for the first time." in text
    assert "The client declined version 1: “Too late”." in text
    # No raw keys or codes.
    for raw in ("Delivery kind", "owner_viewed", "Ip:", "Version number", "delivery_sent"):
        assert raw not in text
    # The email's details and the IP address are folded, not one line each.
    html = _timeline(owner_client, proposal)
    assert "<summary>Email details</summary>" in html
    assert re.search(r"<details class=\"tl-more\">.*203\.0\.113\.9", html, re.S)


def test_failed_email_sentence_names_the_email_and_the_reason(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    _email_event(
        proposal,
        "delivery_failed",
        delivery_kind="owner_accepted",
        recipient="me@example.com",
        reason="mailbox does not exist",
        smtp_code=550,
        attempts=1,
    )
    text = _text(_timeline(owner_client, proposal))
    assert (
        "Your “accepted” notification to me@example.com could not be delivered: "
        "mailbox does not exist." in text
    )
    assert "Mail server answer 550" in text  # inside the folded details
