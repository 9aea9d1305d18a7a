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
    return Activity.objects.create(
        business_id=business_id,
        proposal_id=proposal_id,
        version_id=version_id,
        kind=kind,
        actor_type=actor_type,
        actor_user=actor_user if actor_user and actor_user.is_authenticated else None,
        details=details or {},
        request_id=current_request_id() or origin_request_id or "",
    )
