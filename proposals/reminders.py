"""When a proposal's reminder rules come due, kept on the proposal row.

A business chooses after how many days a sent proposal that was not opened (or not answered)
gets a reminder. Rather than join every business's settings for every open proposal on each
run, the moment each rule comes due is written onto the proposal (``remind_*_due_at``) when it
is sent, recomputed set-based for a business's open proposals when it changes its settings, and
cleared once the rule can no longer fire. The reminders job then reads only what is due, in due
order, through a partial index (``proposals.delivery.jobs``).
"""

from datetime import datetime, timedelta

from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Subquery

from proposals.models import Proposal, ProposalSettings, ProposalVersion

RULES = ("unopened", "unanswered")
# Everything that can stop a rule from firing also clears its due time (see ``due_cleared``).
OPEN = (Proposal.Status.SENT, Proposal.Status.VIEWED)


def rule_days(*, business_id: int) -> dict[str, int]:
    """The business's days per rule (0 = off); the model's defaults without a settings row."""
    row = (
        ProposalSettings.objects.filter(business_id=business_id)
        .values_list("remind_unopened_after_days", "remind_unanswered_after_days")
        .first()
    )
    if row is None:
        return {rule: _default(rule) for rule in RULES}
    return dict(zip(RULES, row, strict=True))


def _default(rule: str) -> int:
    return ProposalSettings._meta.get_field(f"remind_{rule}_after_days").default


def due_times(*, business_id: int, sent_at: datetime) -> dict[str, datetime | None]:
    """The ``remind_*_due_at`` values of a version sent now (for the send's own UPDATE)."""
    days = rule_days(business_id=business_id)
    return {
        f"remind_{rule}_due_at": sent_at + timedelta(days=days[rule]) if days[rule] else None
        for rule in RULES
    }


def due_cleared(*rules: str) -> dict[str, None]:
    """Fields to add to the UPDATE of a transition after which ``rules`` can no longer fire."""
    return {f"remind_{rule}_due_at": None for rule in rules or RULES}


def reminders_reschedule(*, business_id: int) -> int:
    """Apply the business's current days to its open proposals: a constant number of UPDATEs.

    Called in the transaction that changes the settings. A rule already reminded for the
    current version, a revoked link, or 0 days leaves the due time null. Returns the number of
    proposals that have at least one rule scheduled after the change (for the log).
    """
    days = rule_days(business_id=business_id)
    proposals = Proposal.objects.filter(business_id=business_id)
    # Open proposals carry due times; only they can change. Clear, then set what applies.
    proposals.filter(status__in=OPEN).update(**due_cleared())
    sent_at = Subquery(
        ProposalVersion.objects.filter(pk=OuterRef("current_version_id")).values("sent_at")[:1]
    )
    scheduled = 0
    for rule in RULES:
        if not days[rule]:
            continue
        statuses = [Proposal.Status.SENT] if rule == "unopened" else list(OPEN)
        scheduled = max(
            scheduled,
            proposals.filter(
                status__in=statuses,
                current_version__isnull=False,
                current_version__token_revoked_at__isnull=True,
                **{f"current_version__reminded_{rule}_at__isnull": True},
            ).update(
                **{
                    f"remind_{rule}_due_at": ExpressionWrapper(
                        sent_at + timedelta(days=days[rule]), output_field=DateTimeField()
                    )
                }
            ),
        )
    return scheduled
