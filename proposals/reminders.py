"""When a proposal's reminder rules come due, kept on the proposal row.

A business chooses after how many days a sent proposal that was not opened (or not answered)
gets a reminder. Rather than join every business's settings for every open proposal on each
run, the moment each rule comes due is written onto the proposal (``remind_*_due_at``) when it
is sent, recomputed set-based for a business's open proposals when it changes its settings, and
cleared once the rule can no longer fire. The reminders job then reads only what is due, in due
order, through a partial index (``proposals.delivery.jobs``).
"""

from datetime import datetime, timedelta

from django.db.models import DateTimeField, ExpressionWrapper, Field, OuterRef, Subquery

from proposals.models import Proposal, ProposalSettings, ProposalVersion

RULES = ("unopened", "unanswered")
# Everything that can stop a rule from firing also clears its due time (see ``due_cleared``):
# a proposal no longer open (``Proposal.OPEN_STATUSES``) has none.


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
    field = ProposalSettings._meta.get_field(f"remind_{rule}_after_days")
    assert isinstance(field, Field)  # a column of the model, not a relation
    return field.default


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
    proposals.filter(status__in=Proposal.OPEN_STATUSES).update(**due_cleared())
    sent_at = Subquery(
        ProposalVersion.objects.filter(pk=OuterRef("current_version_id")).values("sent_at")[:1]
    )
    scheduled = 0
    for rule in RULES:
        if not days[rule]:
            continue
        statuses = [Proposal.Status.SENT] if rule == "unopened" else list(Proposal.OPEN_STATUSES)
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


# Every open proposal at once, for data written in bulk (``seed_scale``, restores): one
# UPDATE … FROM on PostgreSQL. Same rules as ``reminders_reschedule``; the model defaults
# (3 and 7 days) stand in for a business without a settings row.
SCHEDULE_ALL_SQL = """
UPDATE proposals_proposal p SET
    remind_unopened_due_at = CASE
        WHEN p.status = 'sent' AND v.reminded_unopened_at IS NULL
             AND COALESCE(s.remind_unopened_after_days, %(unopened)s) > 0
        THEN v.sent_at + make_interval(days => COALESCE(s.remind_unopened_after_days, %(unopened)s))
    END,
    remind_unanswered_due_at = CASE
        WHEN v.reminded_unanswered_at IS NULL
             AND COALESCE(s.remind_unanswered_after_days, %(unanswered)s) > 0
        THEN v.sent_at
             + make_interval(days => COALESCE(s.remind_unanswered_after_days, %(unanswered)s))
    END
FROM proposals_proposalversion v
LEFT JOIN proposals_proposalsettings s ON s.business_id = v.business_id
WHERE v.id = p.current_version_id
  AND p.status IN ('sent', 'viewed')
  AND v.token_revoked_at IS NULL
"""


def reminders_schedule_all(cursor) -> int:
    """Set the due times of every open proposal (PostgreSQL); returns the rows updated."""
    cursor.execute(SCHEDULE_ALL_SQL, {rule: _default(rule) for rule in RULES})
    return cursor.rowcount
