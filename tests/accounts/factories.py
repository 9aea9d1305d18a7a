"""Factories of the accounts models.

Each factory is generic in its model, so ``BusinessFactory.create(...)`` is typed as a
``Business``; ``BusinessFactory(...)`` makes the same row but mypy sees the factory class, so
annotated helpers (which mypy checks) call ``.create``.
"""

import factory

from accounts.models import Business, Membership, User


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    password = factory.django.Password("correct horse battery")


class BusinessFactory(factory.django.DjangoModelFactory[Business]):
    class Meta:
        model = Business

    instance_id = factory.Sequence(lambda n: f"inst-{n:06d}-0000-4000-8000-000000000000")
    site_name = factory.Sequence(lambda n: f"Studio {n}")
    site_url = factory.Sequence(lambda n: f"https://studio{n}.example.com")
    owner_email = factory.Sequence(lambda n: f"owner{n}@example.com")
    currency = "USD"
    timezone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    business = factory.SubFactory(BusinessFactory)
    role = Membership.Role.OWNER
