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
    pks = [p.pk for p in _variety(business)]
    models = {p.pk: p for p in selectors.proposal_list(business=business).filter(pk__in=pks)}
    rows = list(selectors.api_proposal_list(business=business).filter(pk__in=pks))

    assert len(rows) == len(pks)
    for row in rows:
        expected = _drf(s.ProposalSummarySerializer(models[row["id"]]))
        assert JSONRenderer().render(representations.proposal_summary(row)) == expected


def _expected_detail(business, pk: int) -> bytes:
    proposal = selectors.proposal_get(business=business, pk=pk)
    sections, totals = selectors.proposal_content(proposal=proposal)
    context = {"sections": sections, "totals": totals}
    return _drf(s.ProposalSerializer(proposal, context=context))


def test_the_detail_is_what_the_proposal_serializer_prints(business):
    for proposal in _variety(business):
        row = selectors.api_proposal_row(business=business, pk=proposal.pk)
        sections, totals = selectors.proposal_content_rows(
            proposal_id=row["id"], currency=row["currency"]
        )

        built = representations.proposal_detail(row, sections=sections, totals=totals)
        assert JSONRenderer().render(built) == _expected_detail(business, proposal.pk)
        assert totals == selectors.proposal_totals(proposal=proposal)


def test_the_api_answers_those_same_bytes(api, business):
    proposal = _variety(business)[1]

    response = api.get(f"/api/v1/proposals/{proposal.pk}/")

    assert response.content == _expected_detail(business, proposal.pk)
    assert response["ETag"] == f'"{proposal.pk}-{proposal.revision}"'


def test_a_write_answers_what_a_read_answers(api, business, customer):
    created = api.post(
        "/api/v1/proposals/",
        {"client": customer.pk, "title": "T", "sections": [{"title": "S", "items": []}]},
        format="json",
    )

    assert created.status_code == 201
    assert created.content == api.get(f"/api/v1/proposals/{created.json()['id']}/").content
