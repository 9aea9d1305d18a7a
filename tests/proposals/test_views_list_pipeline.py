"""Issue 13, point 12: the list shows sent / viewed dates and the pipeline's totals."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from proposals import selectors, services
from proposals.models import Proposal
from tests.proposals.factories import item, make_proposal, make_sent_proposal, sections

pytestmark = pytest.mark.django_db


def _priced(business, price: str, **fields):
    return make_sent_proposal(
        business=business, sections=sections(item("Work", "1", price)), **fields
    )


def _accept(version):
    services.proposal_accept(
        version=version, signed_name="Ada", agreed=True, selected_item_keys=[], ip=None,
        user_agent="",
    )  # fmt: skip


def _box(page: str) -> str:
    match = re.search(r'<dl class="pipeline card".*?</dl>', page, re.S)
    assert match, "no pipeline box"
    return re.sub(r"\s+", " ", match.group(0))


def test_the_pipeline_counts_open_and_this_months_acceptances(
    owner_client, business, other_business
):
    _priced(business, "100.00")
    viewed, _ = _priced(business, "250.00")
    Proposal.objects.filter(pk=viewed.pk).update(status=Proposal.Status.VIEWED)
    _, accepted_version = _priced(business, "1000.00")
    _accept(accepted_version)
    last_month, old_version = _priced(business, "7000.00")
    _accept(old_version)
    Proposal.objects.filter(pk=last_month.pk).update(
        answered_at=timezone.now() - timedelta(days=40)
    )
    make_proposal(business=business)  # a draft is not in the pipeline
    _priced(other_business, "9999.00")

    box = _box(owner_client.get(reverse("dashboard:proposal_list")).content.decode())

    assert "Open (sent or viewed)</dt><dd>2 · $350.00" in box
    month = timezone.now().strftime("%B")
    assert f"Accepted in {month}" in box and "<dd>1 · $1,000.00" in box
    assert "9,999" not in box and "7,000" not in box


def test_amounts_in_several_currencies_are_not_added_up(business):
    _priced(business, "100.00", currency="USD")
    _priced(business, "80.00", currency="EUR")

    pipeline = selectors.pipeline(business=business)

    assert pipeline.open_count == 2
    assert [(c, str(a)) for c, a in pipeline.open_amounts] == [
        ("EUR", "80.0000"),
        ("USD", "100.0000"),
    ]
    assert pipeline.accepted_count == 0 and pipeline.accepted_amounts == []


def test_the_pipeline_never_counts_the_whole_business(owner_client, business):
    _priced(business, "100.00")

    with CaptureQueriesContext(connection) as queries:
        owner_client.get(reverse("dashboard:proposal_list"))

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    # Beside the free plan's send counter: one query, two reads each narrowed to its status.
    [pipeline_read] = [sql for sql in counts if "UNION ALL" in sql]
    assert "IN ('sent', 'viewed')" in pipeline_read and "= 'accepted'" in pipeline_read
    assert pipeline_read.count("GROUP BY") == 2


def test_an_empty_list_shows_no_pipeline(owner_client):
    page = owner_client.get(reverse("dashboard:proposal_list")).content.decode()

    assert 'class="pipeline' not in page


def test_rows_show_when_sent_and_viewed(owner_client, business):
    sent, _ = _priced(business, "100.00", title="Sent one")
    seen = timezone.now() - timedelta(days=1)
    Proposal.objects.filter(pk=sent.pk).update(viewed_at=seen)
    make_proposal(business=business, title="Draft one")

    page = owner_client.get(reverse("dashboard:proposal_list")).content.decode()

    sent_row = page[page.index("Sent one") :].split("</tr>")[0]
    draft_row = page[page.index("Draft one") :].split("</tr>")[0]
    assert sent_row.count("<time") == 3  # created, sent, viewed
    assert f'datetime="{timezone.localtime(seen).isoformat()}"' in sent_row
    assert draft_row.count("<time") == 1 and draft_row.count('aria-label="not yet"') == 2


def test_discounts_line_only_when_there_is_a_discount(owner_client, business):
    plain = make_proposal(business=business, sections=sections(item("A", "1", "100")))
    cut = make_proposal(
        business=business, sections=sections(item("A", "1", "100", discount_percent="10"))
    )

    def page(p):
        return owner_client.get(reverse("dashboard:proposal_detail", args=[p.pk])).content.decode()

    assert "Discounts included" not in page(plain)
    assert "Discounts included: $10.00" in page(cut)
