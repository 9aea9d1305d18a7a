"""The staff audit log: every support action leaves one ``StaffAction`` row, whatever happened.

    with audited(actor=user, action="delivery_retry", target=delivery, business=business) as entry:
        ...                                   # raise ActionRefused("why") to refuse
        entry.message = "queued for sending"  # optional detail for the log

The row is written after the block, in its own short transaction, so a refused or failed
action (its own transaction rolled back) is still recorded. Run the block outside any outer
transaction: an outer rollback would take the audit row with it.
"""

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db import models

from accounts.models import Business, StaffAction, User
from common.request_id import current_request_id

log = structlog.get_logger(__name__)

Row = TypeVar("Row")

Outcome = StaffAction.Outcome


class ActionRefused(Exception):
    """A support action that must not run (already sent, not failed, …); the message says why."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass
class AuditEntry:
    """What the audited block may add before the row is written."""

    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    outcome: str = Outcome.OK
    record: StaffAction | None = None


def _business_of(target: models.Model | None, business: Business | None) -> Business | None:
    if business is not None:
        return business
    if isinstance(target, Business):
        return target
    business_id = getattr(target, "business_id", None)
    return Business(pk=business_id) if business_id else None


def staff_action_record(
    *,
    actor: User | None,
    action: str,
    outcome: str,
    target: models.Model | None = None,
    business: Business | None = None,
    message: str = "",
    details: dict | None = None,
    target_repr: str | None = None,
) -> StaffAction:
    """Write one audit row (use ``audited`` around an action; this is for one-off records)."""
    business = _business_of(target, business)
    if target_repr is None:
        target_repr = str(target) if target is not None else ""
    record = StaffAction.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_email=getattr(actor, "email", "") or "",
        action=action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None and target.pk is not None else "",
        target_repr=target_repr[:200],
        business_id=business.pk if business is not None else None,
        outcome=outcome,
        message=message[:2000],
        details=details or {},
        request_id=current_request_id() or "",
    )
    log.info(
        "staff_action",
        action=action,
        outcome=str(outcome),
        staff_action_id=record.pk,
        actor_id=record.actor_id,
        target_type=record.target_type.model if record.target_type else None,
        target_id=record.target_id,
        business_id=record.business_id,
    )
    return record


@contextmanager
def audited(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    business: Business | None = None,
) -> Iterator[AuditEntry]:
    """Run a support action and record it: ``ok``, ``refused`` (ActionRefused) or ``error``.

    Exceptions are re-raised after the row is written; callers show ``ActionRefused`` messages
    to the staff member and let anything else surface as the bug it is.
    """
    entry = AuditEntry()
    # As the target was before the action: that is what the staff member acted on.
    target_repr = str(target) if target is not None else ""
    try:
        yield entry
    except ActionRefused as exc:
        entry.outcome = Outcome.REFUSED
        entry.message = exc.message
        entry.details.setdefault("code", exc.code)
        raise
    except Exception as exc:
        entry.outcome = Outcome.ERROR
        entry.message = entry.message or f"{exc.__class__.__name__}: {exc}"
        raise
    finally:
        entry.record = staff_action_record(
            actor=actor,
            action=action,
            outcome=entry.outcome,
            target=target,
            business=business,
            message=entry.message,
            details=entry.details,
            target_repr=target_repr,
        )


def act_on_each(
    modeladmin,
    request,
    rows: Iterable[Row],
    act: Callable[[Row], object],
    *,
    name: Callable[[Row], str],
) -> None:
    """An admin action over the selected rows: ``act(row)`` on each, then one report.

    A refused row (``ActionRefused``) does not stop the others; the staff member reads how many
    were done and, for the first ten refused, which (``name(row)``) and why.
    """
    done, refused = 0, []
    for row in rows:
        try:
            act(row)
            done += 1
        except ActionRefused as exc:
            refused.append(f"{name(row)}: {exc.message}")
    if done:
        modeladmin.message_user(request, f"{done} done.", messages.SUCCESS)
    for reason in refused[:10]:
        modeladmin.message_user(request, reason, messages.WARNING)
    if len(refused) > 10:
        modeladmin.message_user(
            request, f"… and {len(refused) - 10} more refused.", messages.WARNING
        )
