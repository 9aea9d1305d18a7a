# Issue 10 (jobs: reminders, expiry, sweepers): when each reminder rule comes due, kept on the
# proposal, and partial indexes on what is due so the jobs never scan or join settings per row.
from datetime import timedelta

from django.db import migrations, models
from django.db.models import DateTimeField, ExpressionWrapper, OuterRef, Q, Subquery

import common.migration_ops as ops

# Proposals per UPDATE: each chunk is its own short transaction (the migration is not atomic),
# so filling 2.1M proposals never holds locks on more than this many rows at once.
CHUNK = 50_000
DEFAULTS = {"unopened": 3, "unanswered": 7}


def fill_due_times(apps, schema_editor):
    """Set the due times of every open proposal from its current version and its settings.

    The same rules as ``proposals.reminders.reminders_reschedule``: a rule already reminded for
    the version, a revoked link, or 0 days (off) leaves it null. One UPDATE per (rule, distinct
    number of days, chunk of primary keys): a handful of values in practice, not one per row.
    """
    Proposal = apps.get_model("proposals", "Proposal")
    ProposalVersion = apps.get_model("proposals", "ProposalVersion")
    ProposalSettings = apps.get_model("proposals", "ProposalSettings")
    last = Proposal.objects.order_by("-pk").values_list("pk", flat=True).first()
    if last is None:
        return
    sent_at = Subquery(
        ProposalVersion.objects.filter(pk=OuterRef("current_version_id")).values("sent_at")[:1]
    )
    for rule, default in DEFAULTS.items():
        field = f"remind_{rule}_after_days"
        statuses = ["sent"] if rule == "unopened" else ["sent", "viewed"]
        days_values = set(
            ProposalSettings.objects.filter(**{f"{field}__gt": 0})
            .values_list(field, flat=True)
            .distinct()
        ) | {default}
        for days in sorted(days_values):
            setting = Q(**{f"business__proposal_settings__{field}": days})
            if days == default:
                setting |= Q(business__proposal_settings__isnull=True)
            due = ExpressionWrapper(sent_at + timedelta(days=days), output_field=DateTimeField())
            for low in range(0, last + 1, CHUNK):
                Proposal.objects.filter(
                    setting,
                    pk__gte=low,
                    pk__lt=low + CHUNK,
                    status__in=statuses,
                    current_version__isnull=False,
                    current_version__token_revoked_at__isnull=True,
                    **{f"current_version__reminded_{rule}_at__isnull": True},
                ).update(**{f"remind_{rule}_due_at": due})


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("proposals", "0002_client_client_email_ci_and_more")]

    operations = [
        migrations.AddField(
            model_name="proposal",
            name="remind_unopened_due_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="proposal",
            name="remind_unanswered_due_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(fill_due_times, migrations.RunPython.noop, elidable=True),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["remind_unopened_due_at", "id"],
                condition=Q(remind_unopened_due_at__isnull=False),
                name="proposal_unopened_due_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["remind_unanswered_due_at", "id"],
                condition=Q(remind_unanswered_due_at__isnull=False),
                name="proposal_unanswered_due_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["valid_until", "id"],
                condition=Q(status__in=["sent", "viewed"], valid_until__isnull=False),
                name="proposal_open_expiry_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(state__in=["pending", "failed_retrying"]),
                name="delivery_due_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                fields=["claimed_until", "id"],
                condition=Q(state="sending"),
                name="delivery_lease_idx",
            ),
        ),
    ]
