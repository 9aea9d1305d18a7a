"""Issue 13, point 8: the proposal page's actions ask before they act, and do what they say.

Withdraw asks for confirmation; a draft can be deleted (after asking); a proposal can be saved
as a template; at the free plan's limit the send button is disabled and "Upgrade to send more"
links to Wix's upgrade page; duplicating asks for the new proposal's title.
"""

import re
from html import unescape

import pytest
from django.urls import reverse

from accounts.models import Business
from proposals.models import Proposal, ProposalTemplate
from tests.proposals.factories import make_proposal, make_sent_proposal

pytestmark = pytest.mark.django_db


def _page(client, proposal) -> str:
    return client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])).content.decode()


def _action_form(page: str, action: str) -> str:
    """The <details> that holds the form posting to ``action``."""
    match = re.search(
        rf'<details class="action-form"[^>]*>(?:(?!</details>).)*action="{re.escape(action)}"'
        r"(?:(?!</details>).)*</details>",
        page,
        re.S,
    )
    assert match, f"no confirming form for {action}"
    return match.group(0)


def test_withdraw_is_behind_a_confirmation(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)

    form = _action_form(_page(owner_client, proposal), f"/app/proposals/{proposal.pk}/withdraw")

    assert "<summary" in form and "Withdraw…" in form
    assert "link stops working" in form and "Yes, withdraw" in form


def test_a_draft_can_be_deleted_after_confirming(owner_client, business):
    draft = make_proposal(business=business, title="Old idea")
    action = reverse("dashboard:proposal_delete", args=[draft.pk])
    form = _action_form(_page(owner_client, draft), action)
    assert "Yes, delete" in form
    revision = re.search(r'name="revision" value="(\d+)"', form).group(1)

    response = owner_client.post(action, {"revision": revision})

    assert response["Location"] == reverse("dashboard:proposal_list")
    assert not Proposal.objects.filter(pk=draft.pk).exists()
    assert "deleted" in owner_client.get(response["Location"]).content.decode()


def test_a_stale_delete_changes_nothing(owner_client, business):
    draft = make_proposal(business=business)

    owner_client.post(
        reverse("dashboard:proposal_delete", args=[draft.pk]), {"revision": draft.revision - 1}
    )

    assert Proposal.objects.filter(pk=draft.pk).exists()


def test_a_sent_proposal_offers_no_delete_and_refuses_one(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    action = reverse("dashboard:proposal_delete", args=[proposal.pk])
    assert action not in _page(owner_client, proposal)

    response = owner_client.post(action, {"revision": proposal.revision})

    assert response["Location"] == reverse("dashboard:proposal_detail", args=[proposal.pk])
    assert Proposal.objects.filter(pk=proposal.pk).exists()
    assert "Only a draft" in owner_client.get(response["Location"]).content.decode()


def test_a_foreign_proposal_cannot_be_deleted(owner_client, other_business):
    foreign = make_proposal(business=other_business)

    response = owner_client.post(reverse("dashboard:proposal_delete", args=[foreign.pk]))

    assert response.status_code == 404
    assert Proposal.objects.filter(pk=foreign.pk).exists()


def test_save_as_template_keeps_the_content(owner_client, business):
    proposal = make_proposal(business=business, title="Website", intro="<p>Hi</p>")
    action = reverse("dashboard:proposal_save_as_template", args=[proposal.pk])
    assert 'value="Website"' in _action_form(_page(owner_client, proposal), action)

    response = owner_client.post(action, {"name": "Standard website"})

    template = ProposalTemplate.objects.get(business=business)
    assert response["Location"] == reverse("dashboard:template_edit", args=[template.pk])
    assert (template.name, template.title, template.intro) == (
        "Standard website",
        "Website",
        "<p>Hi</p>",
    )
    names = [item["name"] for section in template.sections for item in section["items"]]
    assert names == ["Design", "Development", "Hosting (12 months)"]


def test_save_as_template_without_a_name_is_a_message(owner_client, business):
    proposal = make_proposal(business=business)

    response = owner_client.post(
        reverse("dashboard:proposal_save_as_template", args=[proposal.pk]), {"name": "  "}
    )

    assert not ProposalTemplate.objects.exists()
    assert "needs a name" in owner_client.get(response["Location"]).content.decode()


def test_duplicate_asks_for_the_title(owner_client, business):
    proposal, _ = make_sent_proposal(business=business, title="Garden")
    action = reverse("dashboard:proposal_duplicate", args=[proposal.pk])
    form = _action_form(_page(owner_client, proposal), action)
    assert 'name="title"' in form and 'value="Garden"' in form and "(copy)" not in form

    owner_client.post(action, {"title": "Garden, phase 2"})

    copy = Proposal.objects.exclude(pk=proposal.pk).get()
    assert copy.title == "Garden, phase 2"


def test_duplicate_without_a_title_makes_no_copy(owner_client, business):
    proposal = make_proposal(business=business)

    response = owner_client.post(
        reverse("dashboard:proposal_duplicate", args=[proposal.pk]), {"title": ""}
    )

    assert Proposal.objects.count() == 1
    assert "needs a title" in owner_client.get(response["Location"]).content.decode()


def test_at_the_limit_send_is_disabled_and_upgrade_links_to_wix(owner_client, business, settings):
    settings.FREE_PLAN_MONTHLY_SENDS = 1
    settings.WIX_APP_ID = "app-123"
    make_sent_proposal(business=business)
    draft = make_proposal(business=business)

    page = _page(owner_client, draft)
    listing = owner_client.get(reverse("dashboard:proposal_list")).content.decode()

    send_button = re.search(r'<button type="submit" class="button primary"[^>]*>Send', page)
    assert send_button and "disabled" in send_button.group(0)
    upgrade = f"https://www.wix.com/apps/upgrade/app-123?appInstanceId={business.instance_id}"
    for html in (page, listing):
        link = re.search(r'<a href="([^"]+)"[^>]*>Upgrade to send more</a>', html)
        assert link and unescape(link.group(1)) == upgrade


def test_below_the_limit_send_is_enabled_and_no_upgrade_is_offered(owner_client, business):
    draft = make_proposal(business=business)

    page = _page(owner_client, draft)

    send_button = re.search(r'<button type="submit" class="button primary"[^>]*>Send', page)
    assert send_button and "disabled" not in send_button.group(0)
    assert "Upgrade to send more" not in page


def test_a_paid_business_is_never_offered_an_upgrade(owner_client, business, settings):
    settings.FREE_PLAN_MONTHLY_SENDS = 0
    Business.objects.filter(pk=business.pk).update(plan=Business.Plan.PAID)
    draft = make_proposal(business=business)

    assert "Upgrade to send more" not in _page(owner_client, draft)
