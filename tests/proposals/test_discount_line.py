"""Issue 13, point 12: "Discounts included" shows only when a discount counts, decided in one
place (``Totals.has_discount``, the ``discount_line`` tag) on every page with a total."""

import re

import pytest
from django.urls import reverse

from tests.proposals.factories import accept, item, make_proposal, make_sent_proposal, sections

pytestmark = pytest.mark.django_db

NOTE = re.compile(r"<p [^>]*data-discount-line[^>]*>Discounts included: (?:<span[^>]*>)?([^<]*)<")


def _plain_and_cut(business):
    plain = sections(item("A", "1", "100"))
    cut = sections(item("A", "1", "100", discount_percent="10"))
    return plain, cut


def _note(page: str) -> tuple[bool, str] | None:
    """(hidden?, amount) of the page's discount note, None without one."""
    match = NOTE.search(page)
    return (" hidden" in match.group(0), match.group(1)) if match else None


def test_the_client_page_shows_the_note_only_with_a_discount(client, business):
    plain, cut = _plain_and_cut(business)
    for content, expected in ((plain, (True, "$0.00")), (cut, (False, "$10.00"))):
        _, version = make_sent_proposal(business=business, sections=content)
        page = client.get(reverse("public:proposal", args=[version.token])).content.decode()
        # There while hidden: public.js shows it when a ticked optional item has a discount.
        assert _note(page) == expected


def test_the_accepted_copy_shows_the_note_only_with_a_discount(client, business):
    plain, cut = _plain_and_cut(business)
    for content, expected in ((plain, None), (cut, (False, "$10.00"))):
        _, version = make_sent_proposal(business=business, sections=content)
        accept(version)
        page = client.get(reverse("public:proposal", args=[version.token])).content.decode()
        assert "Total accepted" in page
        assert _note(page) == expected
        assert ("Discounts included" in page) is (expected is not None)


def test_the_detail_page_shows_the_note_only_with_a_discount(owner_client, business):
    plain, cut = _plain_and_cut(business)
    for content, expected in ((plain, None), (cut, (False, "$10.00"))):
        proposal = make_proposal(business=business, sections=content)
        url = reverse("dashboard:proposal_detail", args=[proposal.pk])
        assert _note(owner_client.get(url).content.decode()) == expected


def test_the_editor_estimate_starts_with_the_note_hidden(owner_client, business):
    _, cut = _plain_and_cut(business)
    proposal = make_proposal(business=business, sections=cut)
    page = owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk])).content.decode()
    estimate = page[page.index("data-estimate ") :]
    # editor.js fills and shows it when the rows it counts have a discount; never a heading
    # "Discounts included" with nothing (or 0.00) under it.
    assert _note(estimate) == (True, "")
    assert "<dt>Discounts included</dt>" not in page
