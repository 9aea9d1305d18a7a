from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from common import metrics, outbox
        from integrations import checks, monitoring, receivers  # noqa: F401  (registers; connects)
        from integrations.catalog import catalog
        from integrations.invoices import invoice_progress, invoice_summaries
        from integrations.kinds import CONTACT_SYNC, WEBHOOK_RECEIPT, WIX_INVOICE
        from integrations.schedules import ensure_schedules
        from proposals.catalog import register_reader
        from proposals.payments import register_list_reader, register_progress_reader

        outbox.register(CONTACT_SYNC)
        outbox.register(WEBHOOK_RECEIPT)
        outbox.register(WIX_INVOICE)
        register_progress_reader(invoice_progress)
        register_list_reader(invoice_summaries)
        register_reader(catalog)
        metrics.register_collector("wix", monitoring.collect_wix)
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="integrations_schedules")
