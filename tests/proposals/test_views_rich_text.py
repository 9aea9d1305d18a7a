"""Malicious rich text and names are neutralised on every page that shows them."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from proposals import services
from proposals.models import Client, Proposal, ProposalTemplate, ProposalVersion
from tests.proposals.factories import ClientFactory, item, make_proposal, sections

pytestmark = pytest.mark.django_db

EVIL = (
    '<p>Hello <script>alert("x")</script><img src="x" onerror="alert(1)">'
    '<a href="javascript:alert(2)">click</a>'
    '<a href="https://example.com/" onclick="alert(3)">ok</a>'
    '<iframe src="https://evil.example"></iframe><style>body{display:none}</style></p>'
)
EVIL_NAME = '<script>alert("name")</script><img src=x onerror=alert(4)>'


class _Elements(HTMLParser):
    """Every element and attribute the browser would build from the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_neutral(page: str) -> None:
    parser = _Elements()
    parser.feed(page)
    for tag, attrs in parser.tags:
        # Our own scripts are external static files; nothing inline is ever injected.
        if tag == "script":
            assert attrs.get("src", "").startswith(("/static/js/", "/static/vendor/")), (
                f"injected script {attrs}"
            )
        assert tag not in ("iframe", "object", "embed"), f"injected <{tag}>"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith("javascript:"), f"{name}={value}"
    assert "<style>body" not in page


@pytest.fixture
def evil_proposal(business, owner):
    client = ClientFactory(business=business, name=EVIL_NAME, company=EVIL_NAME)
    proposal = make_proposal(
        business=business,
        client=client,
        acting_user=owner,
        title=EVIL_NAME,
        intro=EVIL,
        terms=EVIL,
        sections=sections(
            item(EVIL_NAME, description=EVIL),
            item("Extra", "1", "10", optional=True, description=EVIL_NAME),
            title=EVIL_NAME,
        ),
    )
    return proposal


def test_services_store_sanitised_text(evil_proposal):
    assert "script" not in evil_proposal.intro and "onerror" not in evil_proposal.intro
    assert "javascript:" not in evil_proposal.terms
    assert 'rel="noopener noreferrer nofollow"' in evil_proposal.intro


def dashboard_pages(owner_client, proposal) -> list[str]:
    urls = [
        reverse("dashboard:proposal_list"),
        reverse("dashboard:proposal_detail", args=[proposal.pk]),
        reverse("dashboard:proposal_edit", args=[proposal.pk]),
        reverse("dashboard:proposal_preview", args=[proposal.pk]),
        reverse("dashboard:client_list"),
        reverse("dashboard:client_edit", args=[proposal.client_id]),
    ]
    pages = []
    for url in urls:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    return pages


def test_every_dashboard_page_neutralises_it(owner_client, evil_proposal):
    for page in dashboard_pages(owner_client, evil_proposal):
        assert_neutral(page)
    detail = owner_client.get(reverse("dashboard:proposal_detail", args=[evil_proposal.pk]))
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in detail.content.decode()


def test_client_page_and_its_states_neutralise_it(client, owner, evil_proposal):
    version = services.proposal_send(proposal=evil_proposal, acting_user=owner, message=EVIL)
    url = reverse("public:proposal", args=[version.token])
    page = client.get(url).content.decode()
    assert_neutral(page)
    assert "Hello" in page
    error_page = client.post(reverse("public:accept", args=[version.token]), {"signed_name": EVIL})
    assert_neutral(error_page.content.decode())
    services.proposal_accept(
        version=version, signed_name=EVIL_NAME, agreed=True, selected_item_keys=[], ip=None,
        user_agent="",
    )  # fmt: skip
    assert_neutral(client.get(url).content.decode())


def test_decline_reason_is_escaped_on_the_dashboard(owner_client, owner, evil_proposal):
    version = services.proposal_send(proposal=evil_proposal, acting_user=owner)
    services.proposal_decline(version=version, reason=EVIL, ip=None, user_agent="")
    page = owner_client.get(reverse("dashboard:proposal_detail", args=[evil_proposal.pk]))
    assert_neutral(page.content.decode())


def test_unsanitised_rows_are_still_neutralised_when_rendered(owner_client, client, owner):
    """Second lock: HTML that reached the database unsanitised is cleaned again on output."""
    proposal = make_proposal(business=owner.memberships.get().business, acting_user=owner)
    version = services.proposal_send(proposal=proposal, acting_user=owner)
    Proposal.objects.filter(pk=proposal.pk).update(intro=EVIL, terms=EVIL)
    snapshot = {**version.snapshot, "intro": EVIL, "terms": EVIL}
    ProposalVersion.objects.filter(pk=version.pk).update(snapshot=snapshot)
    Client.objects.filter(pk=proposal.client_id).update(name=EVIL_NAME)
    for page in dashboard_pages(owner_client, proposal):
        assert_neutral(page)
    client.logout()
    assert_neutral(client.get(reverse("public:proposal", args=[version.token])).content.decode())


def test_template_pages_neutralise_it(owner_client, business):
    template = services.template_create(
        business=business, acting_user=None, name=EVIL_NAME, intro=EVIL, terms=EVIL,
        sections=sections(item(EVIL_NAME, description=EVIL)),
    )  # fmt: skip
    ProposalTemplate.objects.filter(pk=template.pk).update(intro=EVIL)
    ClientFactory(business=business)
    for url in (
        reverse("dashboard:template_list"),
        reverse("dashboard:template_edit", args=[template.pk]),
        reverse("dashboard:template_delete", args=[template.pk]),
        reverse("dashboard:proposal_create") + f"?template={template.pk}",
    ):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert_neutral(response.content.decode())
