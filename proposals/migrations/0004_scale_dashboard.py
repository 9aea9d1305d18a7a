# Issue 10 (dashboard lists, send counter): the indexes the dashboard's list, client search and
# free-plan counter read through, built CONCURRENTLY (common.migration_ops).
from django.db import migrations, models
from django.db.models.functions import Lower

import common.migration_ops as ops


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("proposals", "0003_scale_jobs")]

    operations = [
        # A business's proposals newest first (all, by status, by client) with the id as the
        # last key, so a keyset page is one index range in the list's exact order. Each
        # replaces an index it contains: (business, -created_at), (business, status,
        # -created_at) and (business, client).
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["business", "-created_at", "-id"], name="proposal_business_recent_idx"
            ),
        ),
        ops.RemoveIndexConcurrently(model_name="proposal", name="proposals_p_busines_6f2576_idx"),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["business", "status", "-created_at", "-id"],
                name="proposal_status_recent_idx",
            ),
        ),
        ops.RemoveIndexConcurrently(model_name="proposal", name="proposals_p_busines_c15ab4_idx"),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["business", "client", "-created_at", "-id"],
                name="proposal_client_recent_idx",
            ),
        ),
        ops.RemoveIndexConcurrently(model_name="proposal", name="proposals_p_busines_e3e850_idx"),
        # The client search box: a case-insensitive prefix of the name.
        ops.AddIndexConcurrently(
            model_name="client",
            index=models.Index("business", Lower("name"), "id", name="client_business_name_ci"),
        ),
        # The free plan's monthly counter: a business's first sends since the month began.
        ops.AddIndexConcurrently(
            model_name="proposalversion",
            index=models.Index(
                fields=["business", "sent_at"],
                condition=models.Q(number=1),
                name="version_first_send_idx",
            ),
        ),
    ]
