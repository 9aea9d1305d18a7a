"""Reads for accounts."""

from accounts.models import Business, Membership, User


def business_for_user(*, user: User, business_id: int | None = None) -> Business | None:
    """The business the user works in: the chosen one if they belong to it, else their first."""
    if not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("business")
    if business_id is not None:
        chosen = memberships.filter(business_id=business_id).first()
        if chosen is not None:
            return chosen.business
    first = memberships.order_by("created_at", "pk").first()
    return first.business if first else None


def membership_for(*, user: User, business: Business) -> Membership | None:
    return Membership.objects.filter(user=user, business=business).first()
