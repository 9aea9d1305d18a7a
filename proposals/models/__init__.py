from proposals.models.activity import Activity
from proposals.models.clients import Client, ProposalSettings, ProposalTemplate
from proposals.models.deliveries import Delivery, DeliveryAttempt, DeliveryEvent, Suppression
from proposals.models.documents import ProposalPdf
from proposals.models.idempotency import IdempotencyKey
from proposals.models.proposals import (
    Acceptance,
    LineItem,
    Proposal,
    ProposalSequence,
    ProposalVersion,
    ProposalView,
    Section,
)

__all__ = [
    "Acceptance",
    "Activity",
    "Client",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryEvent",
    "IdempotencyKey",
    "LineItem",
    "Proposal",
    "ProposalPdf",
    "ProposalSequence",
    "ProposalSettings",
    "ProposalTemplate",
    "ProposalVersion",
    "ProposalView",
    "Section",
    "Suppression",
]
