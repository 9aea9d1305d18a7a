"""The list's pipeline summary and the plan's monthly send allowance."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, QuerySet, Sum, Value
from django.utils import timezone

from accounts.models import Business
from accounts.scoping import scoped
from proposals import rules
from proposals.models import Proposal, ProposalVersion


@dataclass(frozen=True)
class Pipeline:
    """The list's summary: open proposals (sent or viewed) and those accepted this month, each
    as a count and an amount per currency (a business may quote in several)."""

    open_count: int
    open_amounts: list[tuple[str, Decimal]]
    accepted_count: int
    accepted_amounts: list[tuple[str, Decimal]]
    month_start: datetime


def pipeline(*, business: Business) -> Pipeline:
    """One query of two grouped reads (UNION ALL), each answered from a partial covering
    index alone (migration 0012): the business's open proposals, and its acceptances since the
    1st of this month in its own time zone. Neither counts the business's other proposals."""
    zone = rules.business_zone(business.timezone)
    now = timezone.now().astimezone(zone)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    Status = Proposal.Status
    opened = _amounts(scoped(Proposal, business).filter(status__in=Proposal.OPEN_STATUSES), "open")
    accepted = _amounts(
        scoped(Proposal, business).filter(status=Status.ACCEPTED, answered_at__gte=month_start),
        "accepted",
    )
    rows = sorted(
        (kind, currency, n, _as_stored(amount))
        for kind, currency, n, amount in opened.union(accepted, all=True)
    )
    return Pipeline(
        open_count=sum(n for kind, _, n, _ in rows if kind == "open"),
        open_amounts=[(currency, amount) for kind, currency, _, amount in rows if kind == "open"],
        accepted_count=sum(n for kind, _, n, _ in rows if kind == "accepted"),
        accepted_amounts=[
            (currency, amount) for kind, currency, _, amount in rows if kind == "accepted"
        ],
        month_start=month_start,
    )


# A sum of totals has the totals' own places on every database: PostgreSQL's numeric keeps them,
# while SQLite (development) adds in floating point and hands back 80 for 80.0000, or
# 0.300000000000000 for 0.1000 + 0.2000.
_TOTAL_EXPONENT = Decimal(1).scaleb(-Proposal._meta.get_field("total").decimal_places)


def _as_stored(amount: Decimal) -> Decimal:
    return amount.quantize(_TOTAL_EXPONENT)


def _amounts(queryset: QuerySet[Proposal], kind: str) -> QuerySet:
    return (
        queryset.order_by()
        .values("currency")
        .annotate(kind=Value(kind), n=Count("pk"), amount=Sum("total"))
        .values_list("kind", "currency", "n", "amount")
    )


def sends_this_month(business: Business, *, now: datetime | None = None) -> int:
    """Proposals sent for the first time this calendar month (in the business's zone)."""
    zone = rules.business_zone(business.timezone)
    local = (now or timezone.now()).astimezone(zone)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return ProposalVersion.objects.filter(
        business=business, number=1, sent_at__gte=month_start
    ).count()


def send_limit_for(business: Business) -> int | None:
    if business.plan == Business.Plan.PAID:
        return None
    return settings.FREE_PLAN_MONTHLY_SENDS


def send_usage(*, business: Business) -> tuple[int, int | None]:
    """(first sends this month, the plan's monthly limit or None); the API reports both."""
    return sends_this_month(business), send_limit_for(business)


@dataclass(frozen=True)
class SendAllowance:
    """A limited plan's first sends this month, out of how many it allows."""

    used: int
    limit: int

    @property
    def reached(self) -> bool:
        return self.used >= self.limit


def send_allowance(*, business: Business) -> SendAllowance | None:
    """The month's sends against the plan's limit; None, and nothing counted, without a limit.

    The count reads the partial ``(business, sent_at) WHERE number = 1`` index: a free
    business sends a handful a month, so it is a few index entries.
    """
    limit = send_limit_for(business)
    if limit is None:
        return None
    return SendAllowance(used=sends_this_month(business), limit=limit)
