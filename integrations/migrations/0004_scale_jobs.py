# Issue 10 (jobs: sweepers, retention): no index needed here. Both sweepers read only pending /
# running rows through the existing ("status", "next_attempt_at") indexes, and retention reads
# integ_call_created_idx / webhook_receipt_last_idx; the query-plan test checks it. Kept (empty)
# because 0005 depends on it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("integrations", "0003_wixcontactsync_synced_email")]

    operations: list = []
