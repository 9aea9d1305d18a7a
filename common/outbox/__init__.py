"""One outbox engine for every kind of deferred work (emails, contact syncs, webhook receipts).

A *kind* is a model whose rows are the durable record that some work must happen, written in
the transaction of the change that causes it. The engine owns what every kind needs and none
re-implements: the batch claim with a lease, the drain task, the coalesced enqueue on commit,
the sweeper, the retry policy and the limits read from settings. A kind brings its model and
one function that works a claimed batch (see ``Kind`` in ``kinds.py``); the model inherits
``OutboxRow`` and declares ``due_index`` / ``lease_index``.

Public interface::

    from common import outbox
    outbox.register(outbox.Kind(...))           # in the app's AppConfig.ready()
    outbox.request_drain("delivery")             # after commit: "work of this kind is due"
    outbox.record_on_commit("delivery")          # the same, deferred to the current commit
    outbox.claim(kind, limit=50)                 # rows, state = working, lease set
    outbox.release(kind, rows, at=...)           # give rows back without an attempt
    outbox.pull_forward(kind, limit=500)         # rows waiting out a backoff: due now
    outbox.retry_now(kind, pk, from_states=...)  # support's "try again" (fresh attempts)
    outbox.retry_at(kind, attempts=..., since=..., now=..., retry_after=None)  # or None: give up
    outbox.drain("delivery")                     # the django-q2 task body
    outbox.sweep()                               # the scheduled safety net, every kind
"""

from common.outbox.claim import claim, expire_leases, pull_forward, release, retry_now
from common.outbox.drain import Batch, drain, record_on_commit, request_drain, sweep
from common.outbox.kinds import Kind, all_kinds, get_kind, register, retry_at
from common.outbox.models import AttemptBase, OutboxRow

__all__ = [
    "AttemptBase",
    "Batch",
    "Kind",
    "OutboxRow",
    "all_kinds",
    "claim",
    "drain",
    "expire_leases",
    "get_kind",
    "pull_forward",
    "record_on_commit",
    "register",
    "release",
    "request_drain",
    "retry_at",
    "retry_now",
    "sweep",
]
