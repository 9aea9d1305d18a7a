"""Writes for a business's clients."""

import structlog
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Business, User
from common.text import without_line_breaks
from proposals import rules
from proposals.models import Client, Proposal
from proposals.services._common import _user_id
from proposals.services.errors import ClientInUse

log = structlog.get_logger(__name__)


def _clean_client_fields(name: str, email: str, company: str) -> dict:
    errors = {}
    # A client's name reaches email headers: one line when saved (cleaned again when used).
    name = without_line_breaks(name)
    email = (email or "").strip().lower()
    if not name:
        errors["name"] = "A client needs a name."
    elif len(name) > rules.MAX_NAME:
        errors["name"] = rules.too_long(rules.MAX_NAME)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address."
    if len(company or "") > rules.MAX_NAME:
        errors["company"] = rules.too_long(rules.MAX_NAME)
    if errors:
        raise ValidationError(errors)
    return {"name": name, "email": email, "company": (company or "").strip()}


def client_create(
    *, business: Business, acting_user: User | None, name: str, email: str, company: str = ""
) -> Client:
    client = Client.objects.create(business=business, **_clean_client_fields(name, email, company))
    log.info("client_created", client_id=client.pk, acting_user_id=_user_id(acting_user))
    return client


def client_update(
    *, client: Client, acting_user: User | None, name: str, email: str, company: str = ""
) -> Client:
    for field, value in _clean_client_fields(name, email, company).items():
        setattr(client, field, value)
    client.save()
    log.info("client_updated", client_id=client.pk, acting_user_id=_user_id(acting_user))
    return client


def client_delete(*, client: Client, acting_user: User | None) -> None:
    """Delete a client that no proposal refers to (proposals keep their client)."""
    with transaction.atomic():
        locked = Client.objects.select_for_update().get(pk=client.pk)
        if Proposal.objects.filter(client=locked).exists():
            raise ClientInUse("This client has proposals and cannot be deleted.")
        locked.delete()
    log.info(
        "client_deleted",
        client_id=client.pk,
        business_id=client.business_id,
        acting_user_id=_user_id(acting_user),
    )
