"""Events other apps may react to, sent inside the transaction of the change.

A receiver that records work (an outbox row) therefore commits or rolls back with the change.
"""

from django.dispatch import Signal

# args: proposal
proposal_sent = Signal()
proposal_accepted = Signal()
