"""Emails for the bounce tests: a proposal's email before and after it went out, and a signed
Mailgun bounce posted for it."""

from proposals.delivery.sending import delivery_execute
from proposals.models import Delivery
from tests.accounts.factories import BusinessFactory
from tests.proposals import mailgun
from tests.proposals.factories import ClientFactory, make_sent_proposal


def proposal_email(*, business=None, email: str | None = None) -> Delivery:
    """The proposal email of a freshly sent proposal, not yet out."""
    business = business or BusinessFactory()
    client = ClientFactory(business=business, **({"email": email} if email else {}))
    _, version = make_sent_proposal(client=client)
    return Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)


def sent_email(**kwargs) -> Delivery:
    delivery = proposal_email(**kwargs)
    assert delivery_execute(delivery.pk) == "sent"
    delivery.refresh_from_db()
    return delivery


def bounce(client, delivery: Delivery, **kwargs):
    return mailgun.post(
        client, mailgun.sign(mailgun.bounced(delivery.provider_message_id, delivery.recipient))
    )
