"""Writes for proposals: one function per operation, each owning its transaction, its guard,
its activity row and the work it causes (deliveries recorded in the same transaction).

One module per family (clients, templates, settings, drafting, sending, answers), the refusals
in ``errors``; the reads they need are selectors (``proposals.selectors``), which never import
a service. Import from here: ``from proposals import services; services.proposal_send(...)``.
"""

from proposals.services._common import EDITABLE
from proposals.services.answers import proposal_accept, proposal_decline, proposal_mark_viewed
from proposals.services.clients import client_create, client_delete, client_update
from proposals.services.documents import PdfDownload, proposal_pdf
from proposals.services.drafting import (
    proposal_create,
    proposal_delete,
    proposal_duplicate,
    proposal_update,
)
from proposals.services.errors import (
    ClientInUse,
    ConcurrentEditError,
    PlanLimitReached,
    ProposalError,
    ProposalLocked,
    TransitionError,
)
from proposals.services.purge import proposals_purge
from proposals.services.sending import proposal_expire, proposal_send, proposal_withdraw
from proposals.services.settings import settings_update
from proposals.services.templates import (
    template_create,
    template_delete,
    template_from_proposal,
    template_update,
)

__all__ = [
    "EDITABLE",
    "ClientInUse",
    "ConcurrentEditError",
    "PdfDownload",
    "PlanLimitReached",
    "ProposalError",
    "ProposalLocked",
    "TransitionError",
    "client_create",
    "client_delete",
    "client_update",
    "proposal_accept",
    "proposal_create",
    "proposal_decline",
    "proposal_delete",
    "proposal_duplicate",
    "proposal_expire",
    "proposal_mark_viewed",
    "proposal_pdf",
    "proposal_send",
    "proposal_update",
    "proposal_withdraw",
    "proposals_purge",
    "settings_update",
    "template_create",
    "template_delete",
    "template_from_proposal",
    "template_update",
]
