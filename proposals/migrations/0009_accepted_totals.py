# Issue 13, point 1: once accepted, a proposal's ``total`` is what the client accepted (the
# optional items they chose included), which ``proposal_accept`` now writes. Proposals accepted
# before it still carry the working copy's total: copy each acceptance's total onto its
# proposal.
#
# In batches of acceptances by id, each its own transaction (``atomic = False``): an accepted
# proposal is locked against edits, so a batch only ever waits for a reader, and a deploy never
# holds hundreds of thousands of row locks at once. Rows whose total is already right are not
# written again, so the migration can be re-run.
from django.db import migrations, transaction
from django.db.models import F, OuterRef, Subquery

BATCH = 2000


def copy_accepted_totals(apps, schema_editor):
    Acceptance = apps.get_model("proposals", "Acceptance")
    Proposal = apps.get_model("proposals", "Proposal")
    using = schema_editor.connection.alias
    last = 0
    while True:
        batch = list(
            Acceptance.objects.using(using)
            .filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "proposal_id")[:BATCH]
        )
        if not batch:
            return
        last = batch[-1][0]
        accepted_total = Acceptance.objects.filter(proposal_id=OuterRef("pk")).values("total")[:1]
        with transaction.atomic(using=using):
            (
                Proposal.objects.using(using)
                .filter(pk__in=[proposal_id for _, proposal_id in batch])
                .exclude(total=F("acceptance__total"))
                .update(total=Subquery(accepted_total))
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("proposals", "0008_client_search")]

    operations = [migrations.RunPython(copy_accepted_totals, migrations.RunPython.noop)]
