"""Deliveries as an outbox kind (registered in ProposalsConfig.ready())."""

from common import outbox
from proposals.models import Delivery

DELIVERY = outbox.Kind(
    name="delivery",
    model="proposals.Delivery",
    work="proposals.delivery.sending.deliveries_work",
    # Plain strings: the claim passes them to raw SQL.
    due_states=tuple(str(state) for state in Delivery.WAITING_STATES),
    working_state=str(Delivery.State.SENDING),
    lost_state=str(Delivery.State.FAILED_RETRYING),
    on_lease_expired="proposals.delivery.sending.deliveries_interrupted",
    # Everything building the email reads, in the claim's one load.
    select_related=(
        "business",
        "business__proposal_settings",
        "proposal",
        "proposal__client",
        "version",
    ),
    # DELIVERY_MAX_ATTEMPTS, DELIVERY_LEASE_SECONDS, DELIVERY_BATCH_SIZE, …
    settings_prefix="DELIVERY_",
    lease_error="worker lost while sending",
    # What ``deliveries_work`` counts: the mail server took an email, or asked for a retry.
    success_outcomes=("sent",),
    retry_outcomes=("failed_retrying",),
)
