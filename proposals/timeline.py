"""Writing a proposal's timeline: the one way an Activity row is created."""

from common.request_id import current_request_id
from proposals.models import Activity


def activity_record(
    *,
    business_id: int,
    proposal_id: int,
    kind: str,
    actor_type: str,
    actor_user=None,
    version_id: int | None = None,
    details: dict | None = None,
    origin_request_id: str = "",
) -> Activity:
    """Add an event; it carries the current request id, else the id of the work's origin."""
    activity = activity_build(
        business_id=business_id,
        proposal_id=proposal_id,
        kind=kind,
        actor_type=actor_type,
        actor_user=actor_user,
        version_id=version_id,
        details=details,
        origin_request_id=origin_request_id,
    )
    activity.save(force_insert=True)
    return activity


def activity_build(
    *,
    business_id: int,
    proposal_id: int,
    kind: str,
    actor_type: str,
    actor_user=None,
    version_id: int | None = None,
    details: dict | None = None,
    origin_request_id: str = "",
) -> Activity:
    """The unsaved event ``activity_record`` writes (for a bulk insert of many at once)."""
    return Activity(
        business_id=business_id,
        proposal_id=proposal_id,
        version_id=version_id,
        kind=kind,
        actor_type=actor_type,
        actor_user=actor_user if actor_user and actor_user.is_authenticated else None,
        details=details or {},
        request_id=current_request_id() or origin_request_id or "",
    )
