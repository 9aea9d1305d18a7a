import factory
from django.utils import timezone

from accounts.models import User
from accounts.roles import ensure_support_group
from integrations.models import CircuitBreaker, IntegrationCall, WebhookReceipt
from proposals.models import Delivery, DeliveryAttempt
from tests.accounts.factories import BusinessFactory, UserFactory


class DeliveryFactory(factory.django.DjangoModelFactory[Delivery]):
    class Meta:
        model = Delivery

    business = factory.SubFactory(BusinessFactory)
    kind = Delivery.Kind.PROPOSAL
    recipient = factory.Sequence(lambda n: f"client{n}@example.org")
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")
    state = Delivery.State.FAILED_PERMANENT
    attempt_count = 1
    last_error = "mail server temporarily unavailable"


class AttemptFactory(factory.django.DjangoModelFactory[DeliveryAttempt]):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = factory.Sequence(lambda n: n + 1)
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)
    duration_ms = 120
    outcome = DeliveryAttempt.Outcome.TRANSIENT_FAILURE
    smtp_code = 421
    error = "mail server temporarily unavailable"


class CallFactory(factory.django.DjangoModelFactory[IntegrationCall]):
    class Meta:
        model = IntegrationCall

    business = factory.SubFactory(BusinessFactory)
    api = "contacts"
    endpoint = "/contacts/v4/contacts"
    method = "POST"
    status = 503
    ok = False
    duration_ms = 80
    error = "HTTP 503"


class ReceiptFactory(factory.django.DjangoModelFactory[WebhookReceipt]):
    class Meta:
        model = WebhookReceipt

    status = WebhookReceipt.Status.FAILED
    verified = True
    event_type = "AppInstalled"
    instance_id = factory.LazyAttribute(lambda o: o.business.instance_id if o.business else "")
    business = factory.SubFactory(BusinessFactory)
    claims = factory.LazyAttribute(lambda o: {"data": {"instanceId": o.instance_id}})
    last_error = "Wix unavailable: HTTP 503"


class BreakerFactory(factory.django.DjangoModelFactory[CircuitBreaker]):
    class Meta:
        model = CircuitBreaker
        django_get_or_create = ("api",)

    api = "contacts"
    state = CircuitBreaker.State.OPEN
    consecutive_failures = 5
    opened_at = factory.LazyFunction(timezone.now)
    retry_at = factory.LazyFunction(timezone.now)
    last_error = "HTTP 503"


def support_staff(email: str = "support@example.com") -> User:
    user = UserFactory.create(email=email, is_staff=True)
    user.groups.add(ensure_support_group())
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def invoiced_payments(business):
    """An accepted proposal of a deposit and a balance: its two invoice rows, in order."""
    from integrations.models import WixInvoice
    from proposals import services
    from tests.proposals.factories import accept, make_proposal

    proposal = make_proposal(
        business=business,
        payment_schedule=[
            {"kind": "deposit", "amount_type": "percent", "value": "25"},
            {"kind": "milestone", "label": "On delivery", "amount_type": "balance",
             "due": "days_after", "due_days": 30},
        ],
    )  # fmt: skip
    acceptance = accept(services.proposal_send(proposal=proposal, acting_user=None))
    return list(WixInvoice.objects.filter(acceptance=acceptance).order_by("position"))
