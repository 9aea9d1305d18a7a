"""Reads for accounts."""

from accounts.models import Business, Membership, User, is_reachable
from common.ids import MAX_ID

# Every signed-in request runs this (the dashboard's middleware), so it is one statement written
# once: the chosen business first if the user belongs to it, else their first membership's. The
# ORM would build and compile the join on every request, which cost more than running it.
_BUSINESS_FOR_USER_SQL = (
    "SELECT b.* FROM accounts_business b JOIN accounts_membership m ON m.business_id = b.id "
    "WHERE m.user_id = %s ORDER BY (b.id = %s) DESC, m.created_at, m.id LIMIT 1"
)


def business_for_user(*, user: User, business_id: int | None = None) -> Business | None:
    """The business the user works in: the chosen one if they belong to it, else their first."""
    if not user.is_authenticated:
        return None
    if not isinstance(business_id, int) or isinstance(business_id, bool) or business_id > MAX_ID:
        business_id = None  # a session value that is not an id chooses nothing
    rows = Business.objects.raw(_BUSINESS_FOR_USER_SQL, [user.pk, business_id])
    return next(iter(rows), None)


def membership_for(*, user: User, business: Business) -> Membership | None:
    return Membership.objects.filter(user=user, business=business).first()


def owner_emails_for(*, businesses) -> dict[int, str]:
    """Where each business's notifications go: its owner email, else its first owner's that
    mail can reach (never an SSO user's made-up ``.invalid`` address).

    One query for all the businesses without an owner email (none when they all have one).
    An empty string for a business nobody can be told about.
    """
    emails = {
        business.pk: business.owner_email if is_reachable(business.owner_email) else ""
        for business in businesses
    }
    missing = [pk for pk, email in emails.items() if not email]
    if missing:
        owners = (
            Membership.objects.filter(business_id__in=missing, role=Membership.Role.OWNER)
            .order_by("business_id", "pk")
            .values_list("business_id", "user__email")
        )
        for business_id, email in owners:
            if not emails[business_id] and is_reachable(email):
                emails[business_id] = email
    return emails
