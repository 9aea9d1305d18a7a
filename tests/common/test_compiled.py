"""common.compiled: the ORM's SQL built once, run again with other ids, rows converted alike."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.compiled import CompiledRead
from proposals.models import LineItem
from tests.proposals.factories import ClientFactory, item, make_proposal

pytestmark = pytest.mark.django_db


def _items(section_id: int):
    return LineItem.objects.filter(section_id=section_id, optional=False).order_by("pk")


def test_rows_are_what_the_queryset_returns_for_each_id(business):
    customer = ClientFactory(business=business)
    first = make_proposal(client=customer, sections=[{"title": "A", "items": [item("x", "1.5")]}])
    second = make_proposal(
        client=customer,
        sections=[{"title": "B", "items": [item("y", "2", "0.3333"), item("z", optional=True)]}],
    )
    fields = ("pk", "name", "quantity", "unit_price", "optional", "selected")
    read = CompiledRead(lambda section: _items(section).values_list(*fields), "section")

    for proposal in (first, second, first):
        section = proposal.sections.get()
        assert read.rows(section=section.pk) == list(_items(section.pk).values_list(*fields))
    assert read.rows(section=-1) == []


def test_the_sql_is_built_once(business):
    proposal = make_proposal(client=ClientFactory(business=business))
    section = proposal.sections.first()
    built = []

    def build(section):
        built.append(section)
        return _items(section).values_list("pk")

    read = CompiledRead(build, "section")
    with CaptureQueriesContext(connection) as queries:
        read.rows(section=section.pk)
        read.rows(section=section.pk + 1)

    assert len(built) == 1
    assert len(queries) == 2
    assert str(section.pk + 1) in queries[1]["sql"]


def test_a_query_that_ignores_an_id_is_refused(business):
    read = CompiledRead(lambda section: LineItem.objects.values_list("pk"), "section")

    with pytest.raises(ValueError, match="section"):
        read.rows(section=1)
