from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "proposals"
    verbose_name = "Proposals"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from common import health, metrics, outbox
        from proposals.delivery import monitoring
        from proposals.delivery.kind import DELIVERY
        from proposals.delivery.schedules import ensure_schedules
        from proposals.pdf.kind import PROPOSAL_PDF

        outbox.register(DELIVERY)
        outbox.register(PROPOSAL_PDF)
        health.register_check("deliveries", monitoring.check_deliveries)
        metrics.register_collector("deliveries", monitoring.collect_deliveries)

        # A hook, not a data migration: the schedules survive regenerating 0001_initial.
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="delivery_schedules")
