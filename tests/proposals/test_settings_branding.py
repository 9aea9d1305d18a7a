"""Settings: the time zone and the logo (issue 13 pt 11). The logo is checked for its type
(by its content) and size, stored through Django's storage API, and shown on the client page
and in the emails."""

import io
import struct
import zlib
from zlib import crc32

import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from accounts.models import Business
from proposals import services
from proposals.branding import LOGO_MAX_BYTES
from proposals.delivery import mailer
from proposals.models import Delivery, ProposalSettings
from tests.proposals.factories import make_sent_proposal
from tests.proposals.test_views_manage import settings_post

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_in_tmp")]


def _image(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#116dff").save(out, fmt)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc32(kind + data))


def _png_header(width: int, height: int) -> bytes:
    """A PNG that only claims its size: its header, and no pixels behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b""))
        + _chunk(b"IEND", b"")
    )


PNG = _image((64, 32))


def _upload(content: bytes = PNG, name: str = "logo.png", content_type: str = "image/png"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def _post(owner_client, **overrides):
    return owner_client.post(reverse("dashboard:settings"), settings_post(**overrides))


def test_the_time_zone_is_a_setting(owner_client, business):
    page = owner_client.get(reverse("dashboard:settings")).content.decode()
    assert '<option value="UTC" selected>' in page
    assert _post(owner_client, timezone="Europe/Berlin").status_code == 302
    business.refresh_from_db()
    assert business.timezone == "Europe/Berlin"
    # Not sent (an older form): the zone stays.
    assert _post(owner_client).status_code == 302
    business.refresh_from_db()
    assert business.timezone == "Europe/Berlin"


def test_an_unknown_time_zone_is_a_form_error(owner_client, business):
    response = _post(owner_client, timezone="Mars/Olympus")
    assert response.status_code == 400
    assert '<p class="field-error" id="id_timezone-error">' in response.content.decode()
    assert Business.objects.get(pk=business.pk).timezone == "UTC"


def test_a_logo_upload_is_stored_and_shown(owner_client, business):
    assert _post(owner_client, logo=_upload()).status_code == 302
    prefs = ProposalSettings.objects.get(business=business)
    assert prefs.logo.startswith(f"logos/{business.pk}/") and prefs.logo.endswith(".png")
    with default_storage.open(prefs.logo) as stored:
        assert stored.read() == PNG
    logo_path = reverse("public:logo", args=[prefs.logo])
    assert logo_path in owner_client.get(reverse("dashboard:settings")).content.decode()
    served = owner_client.get(logo_path)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG
    assert "immutable" in served["Cache-Control"]

    # The client page of a proposal sent from now on, and its email, show it: to the client,
    # who is signed in to nothing, and to the business opening its own link.
    proposal, version = make_sent_proposal(business=business)
    for visitor in (Client(), owner_client):
        page = visitor.get(reverse("public:proposal", args=[version.token])).content.decode()
        assert f'class="public-logo" src="{logo_path}"' in page
    anonymous = Client().get(logo_path)
    assert anonymous.status_code == 200 and b"".join(anonymous.streaming_content) == PNG
    delivery = Delivery.objects.select_related("business").get(kind="proposal", version=version)
    html = mailer.build_message(delivery).alternatives[0][0]
    assert f'<img src="{django_settings.SITE_URL}{logo_path}"' in html


@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>", "l.svg", "PNG, JPEG"),
        (b"GIF89a" + b"\0" * 20, "logo.png", "PNG, JPEG"),  # the name says PNG; it is not
        (b"", "logo.png", "empty"),
        (PNG + b"\0" * LOGO_MAX_BYTES, "logo.png", "too large"),
        # The pixels, read by Pillow: too few, absurdly many, a header with nothing behind it.
        (_image((1, 1)), "logo.png", "too small (1 × 1 pixels): at least 16 pixels"),
        (_image((4001, 20)), "logo.png", "too large (4001 × 20 pixels): at most 4000 pixels"),
        (_png_header(9000, 9000), "logo.png", "too large (9000 × 9000 pixels)"),
        (_png_header(100_000, 100_000), "logo.png", "too large: at most 4000 pixels"),
        (_png_header(64, 32), "logo.png", "PNG, JPEG"),
        (PNG[: len(PNG) // 2], "logo.png", "PNG, JPEG"),
    ],
    ids=[
        "svg", "gif", "empty", "bytes", "1x1", "4001-wide", "9000-square", "bomb",
        "header-only", "truncated",
    ],
)  # fmt: skip
def test_a_bad_logo_is_refused_and_nothing_is_stored(owner_client, business, content, name, error):
    response = _post(owner_client, logo=_upload(content, name))
    assert response.status_code == 400
    page = response.content.decode()
    assert '<p class="field-error" id="id_logo-error">' in page and error in page
    assert not ProposalSettings.objects.filter(business=business).exclude(logo="").exists()
    assert not default_storage.exists(f"logos/{business.pk}")


@pytest.mark.parametrize(("fmt", "extension"), [("JPEG", "jpg"), ("WEBP", "webp")])
def test_a_jpeg_or_webp_logo_is_stored_under_its_own_type(owner_client, business, fmt, extension):
    content = _image((120, 40), fmt)
    assert _post(owner_client, logo=_upload(content, "logo.png", "image/png")).status_code == 302
    name = ProposalSettings.objects.get(business=business).logo
    assert name.endswith(f".{extension}")
    with default_storage.open(name) as stored:
        assert stored.read() == content


def test_removing_the_logo_keeps_the_file_for_versions_already_sent(owner_client, business):
    _post(owner_client, logo=_upload())
    name = ProposalSettings.objects.get(business=business).logo
    _, version = make_sent_proposal(business=business)
    assert _post(owner_client, remove_logo="on").status_code == 302
    assert ProposalSettings.objects.get(business=business).logo == ""
    assert default_storage.exists(name)
    assert version.snapshot["business"]["logo"] == name


def test_only_stored_logo_names_are_served(client):
    for name in ("../../config/settings.py", "logos/1/x.png", "logos/1/0123456789abcdef.svg"):
        assert client.get(f"/p/logo/{name}").status_code == 404


def test_settings_service_refuses_a_bad_logo_without_saving():
    business = Business.objects.create(instance_id="inst-logo", site_name="S")
    with pytest.raises(Exception) as refused:
        services.settings_update(
            business=business,
            acting_user=None,
            brand_name="",
            brand_color="#116dff",
            remind_unopened_after_days=3,
            remind_unanswered_after_days=7,
            default_currency="USD",
            logo=_upload(b"not an image"),
        )
    assert "logo" in refused.value.message_dict
