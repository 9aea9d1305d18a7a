"""Due emails for the batch tests, their states, and the delivery drains queued for them."""

from datetime import timedelta

from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from common.outbox.drain import DRAIN_TASK
from proposals.models import Delivery
from tests.proposals.factories import make_sent_proposal

KIND = "delivery"


def emails(count: int, *, business=None, recipients=None) -> list[Delivery]:
    """``count`` due owner emails about one sent proposal (its own email already went out)."""
    proposal, version = make_sent_proposal(**({"business": business} if business else {}))
    Delivery.objects.filter(proposal=proposal).update(
        state=Delivery.State.SENT, next_attempt_at=None
    )
    now = timezone.now()
    return Delivery.objects.bulk_create(
        Delivery(
            business=proposal.business,
            kind=Delivery.Kind.OWNER_VIEWED,
            recipient=(recipients or {}).get(n, f"owner{n}@example.com"),
            idempotency_key=f"batch:{proposal.pk}:{n}",
            proposal=proposal,
            version=version,
            next_attempt_at=now - timedelta(seconds=60) + timedelta(milliseconds=n),
        )
        for n in range(count)
    )


def states(rows) -> list[str]:
    by_pk = dict(Delivery.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "state"))
    return [by_pk[row.pk] for row in rows]


def queued_drains() -> list:
    return [
        task["args"]
        for task in (SignedPackage.loads(row.payload) for row in OrmQ.objects.all())
        if task["func"] == DRAIN_TASK and task["args"] == (KIND,)
    ]
