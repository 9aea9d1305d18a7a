"""Times on the business's pages and its client's page are written in the business's time
zone (Settings, or Wix's), not the server's UTC: a proposal sent at 23:30 in New York was
sent that day, not the next."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from accounts.models import Business
from proposals.models import Acceptance, ProposalVersion
from tests.proposals.factories import make_sent_proposal
from tests.proposals.test_views_public import html, page_url

pytestmark = pytest.mark.django_db

# 04:30 UTC on 2 March is 23:30 on 1 March in New York (EST, UTC-5).
SENT = datetime(2026, 3, 2, 4, 30, tzinfo=ZoneInfo("UTC"))


def _in_new_york(business: Business) -> None:
    Business.objects.filter(pk=business.pk).update(timezone="America/New_York")


def test_the_dashboard_writes_times_in_the_business_time_zone(owner_client, business):
    _in_new_york(business)
    proposal, version = make_sent_proposal(business=business)
    ProposalVersion.objects.filter(pk=version.pk).update(sent_at=SENT)
    page = owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk]))
    text = page.content.decode()
    assert "1 Mar 2026, 23:30" in text
    assert "2 Mar 2026, 04:30" not in text


def test_the_client_page_writes_the_signature_time_in_the_business_time_zone(client, business):
    _in_new_york(business)
    _, version = make_sent_proposal(business=business)
    client.post(
        reverse("public:accept", args=[version.token]), {"signed_name": "Ada", "agreed": "on"}
    )
    Acceptance.objects.update(accepted_at=SENT)
    page = html(client.get(page_url(version)))
    assert "1 March 2026, 23:30 EST" in page


def test_an_unknown_stored_zone_writes_utc(owner_client, business):
    Business.objects.filter(pk=business.pk).update(timezone="Mars/Olympus_Mons")
    proposal, version = make_sent_proposal(business=business)
    ProposalVersion.objects.filter(pk=version.pk).update(sent_at=SENT)
    text = owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])).content
    assert "2 Mar 2026, 04:30" in text.decode()
