"""The delivery queue as the pipeline tests drive it: a recorded email, the drains waiting on the
ORM queue (run as a worker would), and the sweeper's report."""

from django_q.models import OrmQ
from django_q.signing import SignedPackage

from common import outbox
from common.outbox import tasks as outbox_tasks
from common.outbox.drain import DRAIN_TASK
from proposals.models import Delivery
from tests.proposals.factories import make_sent_proposal


def proposal_delivery() -> Delivery:
    _, version = make_sent_proposal()
    return Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)


def queued_drains() -> list[str]:
    """The delivery drains on the ORM queue (other kinds, e.g. contact syncs, left out)."""
    kinds = []
    for row in OrmQ.objects.all():
        task = SignedPackage.loads(row.payload)
        if task["func"] == DRAIN_TASK and task["args"][0] == "delivery":
            kinds.append(task["args"][0])
    return kinds


def run_queued_drains() -> list[dict]:
    """Run the delivery drains on the ORM queue, as a worker would (each once, then removed)."""
    results = []
    for row in OrmQ.objects.order_by("pk"):
        task = SignedPackage.loads(row.payload)
        row.delete()
        if task["func"] == DRAIN_TASK and task["args"][0] == "delivery":
            results.append(outbox_tasks.drain(*task["args"]))
    return results


def sweep(now=None) -> dict:
    return outbox.sweep(now=now)["delivery"]
