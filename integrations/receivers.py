"""React to what proposals announce; runs inside the proposal's own transaction."""

from django.dispatch import receiver

from integrations.contacts import contact_sync_request
from integrations.invoices import invoices_for_acceptance
from proposals.signals import proposal_accepted, proposal_sent


@receiver(proposal_sent, dispatch_uid="integrations.wix_contact_on_sent")
def sync_contact_on_sent(sender, proposal, **kwargs) -> None:
    contact_sync_request(client=proposal.client, reason="proposal_sent")


@receiver(proposal_accepted, dispatch_uid="integrations.wix_contact_on_accepted")
def sync_contact_on_accepted(sender, proposal, **kwargs) -> None:
    contact_sync_request(client=proposal.client, reason="proposal_accepted")


@receiver(proposal_accepted, dispatch_uid="integrations.wix_invoices_on_accepted")
def invoice_on_accepted(sender, proposal, **kwargs) -> None:
    invoices_for_acceptance(acceptance=proposal.acceptance)
