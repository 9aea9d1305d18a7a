from datetime import date
from decimal import Decimal

import factory

from proposals import services
from proposals.models import Client, Proposal, ProposalVersion
from tests.accounts.factories import BusinessFactory


class ClientFactory(factory.django.DjangoModelFactory[Client]):
    class Meta:
        model = Client

    business = factory.SubFactory(BusinessFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"client{n}@example.org")
    company = factory.Faker("company")


def sections(*items: dict, title: str = "Work") -> list[dict]:
    return [{"title": title, "items": list(items)}]


def item(name: str = "Design", quantity: str = "1", unit_price: str = "100.00", **extra) -> dict:
    return {"name": name, "quantity": quantity, "unit_price": unit_price, **extra}


def make_proposal(*, business=None, client=None, acting_user=None, **fields):
    """A draft proposal built through the service, as every door builds one."""
    client = client or ClientFactory(business=business or BusinessFactory())
    fields.setdefault("title", "Website redesign")
    fields.setdefault(
        "sections",
        sections(
            item("Design", "1", "1200.00"),
            item("Development", "10", "95.50", tax_rate="20"),
            item("Hosting (12 months)", "1", "240.00", optional=True),
        ),
    )
    return services.proposal_create(
        business=client.business, acting_user=acting_user, client=client, **fields
    )


def make_sent_proposal(**fields):
    proposal = make_proposal(**fields)
    version = services.proposal_send(proposal=proposal, acting_user=None)
    proposal.refresh_from_db()
    return proposal, version


__all__ = ["ClientFactory", "Decimal", "item", "make_proposal", "make_sent_proposal", "sections"]


def accept(version, name="Jane Client", keys=(), *, ip="203.0.113.9", user_agent="pytest"):
    """The client accepts ``version`` (signed ``name``, the optional items ``keys`` chosen)."""
    return services.proposal_accept(
        version=version, signed_name=name, agreed=True, selected_item_keys=list(keys),
        ip=ip, user_agent=user_agent,
    )  # fmt: skip


def sent_valid_until(proposal, day: date) -> None:
    """As if ``proposal`` had been sent valid until ``day``: a day past, which sending refuses.

    The working copy, the version sent and the date expiry follows all say ``day``.
    """
    Proposal.objects.filter(pk=proposal.pk).update(valid_until=day, sent_valid_until=day)
    version = ProposalVersion.objects.get(pk=proposal.current_version_id)
    version.snapshot = {**version.snapshot, "valid_until": day.isoformat()}
    version.save(update_fields=["snapshot"])
