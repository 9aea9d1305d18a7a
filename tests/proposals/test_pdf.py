"""PDFs of the sent version and of the accepted one (issue 15 pt 5): rendered once by a worker,
stored with their SHA-256, the same bytes on every download, a tampered file detected, each
door scoped as its page is."""

import hashlib
import io
import subprocess
import sys
from datetime import date, timedelta

import pypdf
import pytest
import structlog
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from common import outbox
from common.money import format_money
from proposals import services
from proposals.delivery import message
from proposals.models import Delivery, ProposalPdf
from proposals.pdf import render
from proposals.pdf.kind import PROPOSAL_PDF
from tests.accounts.factories import MembershipFactory
from tests.conftest import ROOT, subprocess_env
from tests.proposals.factories import Decimal, accept, make_sent_proposal, sent_valid_until

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


def version_pdf_url(proposal, number=1):
    return reverse("dashboard:proposal_version_pdf", args=[proposal.pk, number])


def accepted_pdf_url(proposal):
    return reverse("dashboard:proposal_accepted_pdf", args=[proposal.pk])


def public_pdf_url(version):
    return reverse("public:pdf", args=[version.token])


def downloaded(client, url):
    """The PDF at ``url``: asked for (being prepared), rendered by a worker, downloaded."""
    first = client.get(url)
    assert first.status_code == 202, first.status_code
    assert first["Retry-After"]
    assert "Preparing your PDF" in first.content.decode()
    assert outbox.drain(PROPOSAL_PDF).get("rendered") == 1
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return response


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_same_bytes_come_back_on_every_download_and_are_rendered_once(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    first = downloaded(owner_client, version_pdf_url(proposal))
    second = owner_client.get(version_pdf_url(proposal))
    assert second.status_code == 200
    assert first.content == second.content
    row = ProposalPdf.objects.get(proposal=proposal)
    assert row.kind == "sent" and row.state == "ready" and row.size == len(first.content)
    assert row.sha256 == hashlib.sha256(first.content).hexdigest()
    assert first["ETag"] == f'"{row.sha256}"'
    assert 'filename="P-0001-v1.pdf"' in first["Content-Disposition"]
    assert outbox.drain(PROPOSAL_PDF)["claimed"] == 0  # nothing rendered again


def test_identical_input_renders_identical_bytes_with_the_contents_own_dates(business):
    proposal, version = make_sent_proposal(business=business)
    one, two = render.render(version=version), render.render(version=version)
    assert one.data == two.data
    reader = pypdf.PdfReader(io.BytesIO(one.data))
    # No rendering time in the file: its dates are the version's, its /ID from its fingerprint.
    assert reader.metadata["/CreationDate"] == version.sent_at.strftime("D:%Y%m%d%H%M%SZ")
    assert reader.trailer["/ID"][0] == version.content_hash[:32]
    assert reader.metadata["/Title"] == "P-0001 Website redesign"


def test_the_accepted_pdf_carries_the_signature_block(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    acceptance = accept(version, "Ada Lovelace", ip="198.51.100.7")
    text = pdf_text(downloaded(owner_client, accepted_pdf_url(proposal)).content)
    assert "Signature" in text and "Signed by Ada Lovelace" in text
    assert acceptance.email in text
    assert "198.51.100.7" in text
    assert acceptance.content_hash in text
    assert acceptance.accepted_at.strftime("%H:%M") in text  # in the business's time zone (UTC)
    assert "Total" in text and "$2,346.00" in text
    assert "Optional, not chosen" in text


def test_the_sent_pdf_writes_money_in_the_business_locale_and_has_no_signature(business):
    business.locale, business.currency = "de-DE", "EUR"
    business.save()
    proposal, version = make_sent_proposal(business=business, currency="EUR")
    client = Client()
    text = pdf_text(downloaded(client, public_pdf_url(version)).content)
    assert format_money(Decimal("2346.00"), "EUR", "de-DE") in text  # 2.346,00 €
    assert "€2,346.00" not in text
    assert "Signed by" not in text
    assert version.content_hash in text


def test_a_tampered_stored_pdf_is_detected_logged_and_restored(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    original = downloaded(owner_client, version_pdf_url(proposal)).content
    row = ProposalPdf.objects.get(proposal=proposal)
    default_storage.delete(row.file_name)
    tampered_bytes = original[:1000] + b"0" + original[1001:]
    assert tampered_bytes != original
    default_storage.save(row.file_name, ContentFile(tampered_bytes))

    with structlog.testing.capture_logs() as logs:
        response = owner_client.get(version_pdf_url(proposal))
    assert response.status_code == 202  # never the changed bytes
    tampered = [e for e in logs if e["event"] == "proposal_pdf_tampered"]
    assert tampered and tampered[0]["log_level"] == "warning"
    assert tampered[0]["expected_sha256"] == row.sha256
    assert tampered[0]["found_sha256"] != row.sha256

    # Re-rendered from the frozen version: the same bytes as recorded, so the file is restored.
    assert outbox.drain(PROPOSAL_PDF)["rendered"] == 1
    restored = owner_client.get(version_pdf_url(proposal))
    assert restored.status_code == 200 and restored.content == original


def test_a_pdf_that_cannot_be_rendered_to_its_recorded_hash_is_refused(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    downloaded(owner_client, version_pdf_url(proposal))
    # As if the renderer or its fonts had changed since: the bytes no longer hash as recorded.
    ProposalPdf.objects.filter(proposal=proposal).update(sha256="0" * 64)
    assert owner_client.get(version_pdf_url(proposal)).status_code == 202
    with structlog.testing.capture_logs() as logs:
        outbox.drain(PROPOSAL_PDF)
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["proposal_pdf_failed"]
    row = ProposalPdf.objects.get(proposal=proposal)
    assert row.state == "failed" and "differ from the recorded" in row.last_error
    response = owner_client.get(version_pdf_url(proposal))
    assert response.status_code == 409
    assert "can't be downloaded" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")


def test_another_business_gets_404_on_every_pdf_door(client, business):
    proposal, version = make_sent_proposal(business=business)
    accept(version)
    stranger = MembershipFactory().user
    client.force_login(stranger)
    assert client.get(version_pdf_url(proposal)).status_code == 404
    assert client.get(accepted_pdf_url(proposal)).status_code == 404
    # Signed in to another business, the client's link answers 404 as the page does.
    assert client.get(public_pdf_url(version)).status_code == 404
    assert not ProposalPdf.objects.exists()


def test_unknown_versions_tokens_and_unaccepted_proposals_answer_404(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    assert owner_client.get(version_pdf_url(proposal, number=2)).status_code == 404
    assert owner_client.get(accepted_pdf_url(proposal)).status_code == 404  # not accepted
    assert Client().get(reverse("public:pdf", args=["x" * 43])).status_code == 404
    assert not ProposalPdf.objects.exists()


def test_a_clients_token_gives_only_its_own_proposals_pdf(business):
    proposal, version = make_sent_proposal(business=business, title="Ours")
    other, other_version = make_sent_proposal(business=business, title="Theirs")
    text = pdf_text(downloaded(Client(), public_pdf_url(other_version)).content)
    assert "Theirs" in text and "Ours" not in text
    assert ProposalPdf.objects.get().proposal == other


@pytest.mark.parametrize("state", ["withdrawn", "expired", "superseded"])
def test_a_link_that_no_longer_shows_the_proposal_answers_as_the_page(state, business):
    proposal, version = make_sent_proposal(business=business)
    if state == "withdrawn":
        services.proposal_withdraw(proposal=proposal, acting_user=None)
    elif state == "expired":
        sent_valid_until(proposal, date.today() - timedelta(days=2))
    else:
        services.proposal_send(proposal=proposal, acting_user=None)
    page = Client().get(reverse("public:proposal", args=[version.token]))
    response = Client().get(public_pdf_url(version))
    assert response.status_code == page.status_code == 410
    assert response["Content-Type"].startswith("text/html")
    assert not ProposalPdf.objects.exists()


def test_the_client_downloads_the_signed_copy_from_the_confirmation(business):
    proposal, version = make_sent_proposal(business=business)
    accept(version)
    page = Client().get(reverse("public:proposal", args=[version.token])).content.decode()
    assert f'href="{public_pdf_url(version)}"' in page
    delivery = Delivery.objects.get(kind=Delivery.Kind.ACCEPTANCE_CONFIRMATION)
    email = message.build_message(delivery)
    link = f"/p/{version.token}/pdf"
    assert link in email.body and link in email.alternatives[0][0]
    text = pdf_text(downloaded(Client(), public_pdf_url(version)).content)
    assert "Signed by Jane Client" in text
    assert ProposalPdf.objects.get().kind == "accepted"


def test_the_dashboard_links_both_pdfs(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    accept(version)
    page = owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk]))
    assert version_pdf_url(proposal) in page.content.decode()
    assert accepted_pdf_url(proposal) in page.content.decode()


def test_downloads_read_a_fixed_number_of_queries(
    owner_client, business, django_assert_num_queries
):
    proposal, version = make_sent_proposal(business=business)
    accept(version)
    downloaded(owner_client, accepted_pdf_url(proposal))
    downloaded(owner_client, version_pdf_url(proposal))
    # Session, user, membership (the dashboard's business), the acceptance or version, the PDF.
    with django_assert_num_queries(5):
        assert owner_client.get(accepted_pdf_url(proposal)).status_code == 200
    with django_assert_num_queries(5):
        assert owner_client.get(version_pdf_url(proposal)).status_code == 200
    client = Client()
    # The version by its token (with its proposal and business: its state), the PDF.
    with django_assert_num_queries(2):
        assert client.get(public_pdf_url(version)).status_code == 200


def test_a_worker_lost_rendering_too_often_fails_the_row(business):
    proposal, version = make_sent_proposal(business=business)
    Client().get(public_pdf_url(version))
    limit = PROPOSAL_PDF.setting("MAX_ATTEMPTS")
    past = version.sent_at - timedelta(hours=1)
    ProposalPdf.objects.update(state="rendering", attempt_count=limit, claimed_until=past)
    outbox.expire_leases(PROPOSAL_PDF)
    row = ProposalPdf.objects.get()
    assert row.state == "failed" and "too large to render in time" in row.last_error
    assert Client().get(public_pdf_url(version)).status_code == 409


def test_the_renderer_fetches_nothing_but_the_projects_own_files():
    fetcher = render.LocalFetcher()
    for url in (
        "https://example.com/logo.png",
        "http://127.0.0.1:8765/apps/v1/instance",
        f"{render.BASE_URL}static/../config/settings.py",
        f"{render.BASE_URL}p/logo/../../etc/passwd",
        "file:///etc/passwd",
    ):
        with pytest.raises(render.RefusedFetch):
            fetcher.fetch(url)
    css = fetcher.fetch(f"{render.BASE_URL}static/css/pdf.css")
    assert b"@page" in css.read()


def test_the_business_logo_is_embedded_from_storage(business):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from proposals.branding import logo_store
    from proposals.models import ProposalSettings

    out = io.BytesIO()
    Image.new("RGB", (64, 32), "#116dff").save(out, "PNG")
    name = logo_store(
        business_id=business.pk, upload=SimpleUploadedFile("l.png", out.getvalue()), extension="png"
    )
    ProposalSettings.objects.update_or_create(business=business, defaults={"logo": name})
    _, version = make_sent_proposal(business=business)
    with structlog.testing.capture_logs() as logs:
        data = render.render(version=version).data
    assert b"/Subtype /Image" in data
    assert not [e for e in logs if e["event"] == "pdf_fetch_refused"]


def test_loading_the_renderer_leaves_the_logo_check_strict():
    from PIL import ImageFile

    import proposals.pdf.work  # noqa: F401  (imports WeasyPrint, which relaxes Pillow)

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


RENDER_IN_A_NEW_PROCESS = """
import hashlib, sys
import django
django.setup()
from proposals.pdf import render
data = render.html_to_pdf(sys.stdin.read(), identifier=sys.argv[1])
print(hashlib.sha256(data).hexdigest())
"""


@pytest.mark.slow
def test_another_process_renders_the_same_bytes(business):
    """A worker restoring a tampered file is another process, with another hash seed."""
    proposal, version = make_sent_proposal(business=business)
    acceptance = accept(version)
    expected = hashlib.sha256(render.render(version=version, acceptance=acceptance).data)
    html = render.document_html(version=version, acceptance=acceptance)
    for seed in ("1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", RENDER_IN_A_NEW_PROCESS, acceptance.content_hash[:32]],
            input=html,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=subprocess_env(PYTHONHASHSEED=seed),
            timeout=120,
            check=True,
        )
        assert result.stdout.strip().splitlines()[-1] == expected.hexdigest()


def test_the_retention_purge_deletes_the_stored_files(owner_client, business):
    proposal, _ = make_sent_proposal(business=business)
    downloaded(owner_client, version_pdf_url(proposal))
    name = ProposalPdf.objects.get().file_name
    assert default_storage.exists(name)
    services.proposals_purge(business_ids=[business.pk])
    assert not default_storage.exists(name)
    assert not ProposalPdf.objects.exists()


def test_the_business_downloads_through_its_own_clients_link_without_a_view(owner_client, business):
    proposal, version = make_sent_proposal(business=business)
    response = downloaded(owner_client, public_pdf_url(version))
    assert pdf_text(response.content).count("Website redesign") >= 1
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    Client().get(public_pdf_url(version))  # the client's download: no view either
    proposal.refresh_from_db()
    assert proposal.status == "sent" and not proposal.views.exists()


def test_a_renderer_failure_is_retried_with_backoff_then_fails_with_its_reason(
    business, monkeypatch, settings
):
    import weasyprint

    def broken(self, *args, **kwargs):
        raise OSError("pango: cannot load font")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", broken)  # the edge: the library
    proposal, version = make_sent_proposal(business=business)
    Client().get(public_pdf_url(version))
    with structlog.testing.capture_logs() as logs:
        assert outbox.drain(PROPOSAL_PDF).get("retry") == 1
    row = ProposalPdf.objects.get()
    assert row.state == "pending" and row.attempt_count == 1
    assert row.next_attempt_at > version.sent_at and "cannot load font" in row.last_error
    assert "proposal_pdf_retry" in [e["event"] for e in logs]
    assert Client().get(public_pdf_url(version)).status_code == 202  # still being prepared

    settings.OUTBOX_PROPOSAL_PDF_MAX_ATTEMPTS = 2
    ProposalPdf.objects.update(next_attempt_at=version.sent_at)  # due again
    assert outbox.drain(PROPOSAL_PDF).get("failed") == 1
    row.refresh_from_db()
    assert row.state == "failed" and row.attempt_count == 2 and row.next_attempt_at is None
    assert Client().get(public_pdf_url(version)).status_code == 409
