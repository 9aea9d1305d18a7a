"""The API's hand-built proposal JSON is exactly what its serializers (and schema) describe."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from proposals import selectors, services
from proposals.api import representations
from proposals.api import serializers as s
from proposals.models import Proposal
from tests.proposals.factories import ClientFactory, item, make_proposal, make_sent_proposal

pytestmark = pytest.mark.django_db


def _drf(serializer) -> bytes:
    return JSONRenderer().render(serializer.data)


def _variety(business) -> list[Proposal]:
    """Drafts and sent ones; nulls, odd decimals, an empty section, text beyond ASCII."""
    client = ClientFactory(business=business, name="Zoë Ünal", email="zoe@例え.example", company="")
    plain = make_proposal(client=client, title="Plain")
    odd = make_proposal(
        client=client,
        title="Décimales «odd»",
        currency="JPY",
        valid_until=date(2031, 2, 28),
        intro="<p>Hello</p>",
        terms="<p>Terms</p>",
        sections=[
            {
                "title": "Work",
                "items": [
                    item("A", "0.125", "0.3333", discount_percent="12.5", tax_rate="7.25"),
                    item("B", "1000000", "0", optional=True, selected=False),
                    item("C", "3", "19.9999", optional=True),
                ],
            },
            {"title": "Nothing here", "items": []},
            {"title": "", "items": [item("D", "1", "1")]},
        ],
    )
    empty = make_proposal(client=client, title="Empty", sections=[])
    sent, _ = make_sent_proposal(client=client, title="Sent")
    withdrawn, _ = make_sent_proposal(client=client, title="Withdrawn")
    services.proposal_withdraw(proposal=withdrawn, acting_user=None)
    Proposal.objects.filter(pk=sent.pk).update(viewed_at=timezone.now() - timedelta(hours=3))
    return [plain, odd, empty, sent, withdrawn]


def test_list_rows_are_what_the_summary_serializer_prints(business):
    proposals = _variety(business)
    rows = list(selectors.proposal_list(business=business).filter(pk__in=[p.pk for p in proposals]))

    for proposal in rows:
        expected = _drf(s.ProposalSummarySerializer(proposal))
        assert JSONRenderer().render(representations.proposal_summary(proposal)) == expected


def test_the_detail_is_what_the_proposal_serializer_prints(business):
    for proposal in _variety(business):
        proposal = selectors.proposal_get(business=business, pk=proposal.pk)
        sections, totals = selectors.proposal_content(proposal=proposal)
        expected = _drf(
            s.ProposalSerializer(proposal, context={"sections": sections, "totals": totals})
        )
        data, data_totals = selectors.proposal_content_data(proposal=proposal)

        assert data_totals == totals
        built = representations.proposal_detail(proposal, sections=data, totals=data_totals)
        assert JSONRenderer().render(built) == expected


def test_the_api_answers_those_same_bytes(api, business):
    proposal = _variety(business)[1]
    proposal = selectors.proposal_get(business=business, pk=proposal.pk)
    sections, totals = selectors.proposal_content(proposal=proposal)
    context = {"sections": sections, "totals": totals}
    expected = _drf(s.ProposalSerializer(proposal, context=context))

    assert api.get(f"/api/v1/proposals/{proposal.pk}/").content == expected
