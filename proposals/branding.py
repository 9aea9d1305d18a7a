"""The business's logo: checked on upload (its type read from its content, its size bounded),
stored through Django's storage API, served by the client page's ``public:logo`` route.

Only raster formats a mail client shows are taken (PNG, JPEG, WebP): an SVG can carry script,
and the file's name or declared content type prove nothing about what it holds.
"""

import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse

LOGO_MAX_BYTES = 512 * 1024
# The content type each accepted format is served with, by the extension it is stored under.
LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
# What ``logo_store`` names a file: the route serves nothing else.
LOGO_NAME = re.compile(r"^logos/\d+/[0-9a-f]{16}\.(png|jpg|webp)\Z")


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def logo_check(upload) -> str:
    """The stored extension of an uploaded logo; a ``ValidationError`` on ``logo`` otherwise."""
    if upload.size > LOGO_MAX_BYTES:
        raise ValidationError(
            {"logo": f"The logo is too large: at most {LOGO_MAX_BYTES // 1024} KB, please."}
        )
    if upload.size == 0:
        raise ValidationError({"logo": "The file is empty."})
    upload.seek(0)
    kind = _sniff(upload.read(16))
    upload.seek(0)
    if kind is None:
        raise ValidationError({"logo": "Upload the logo as a PNG, JPEG or WebP image."})
    return kind


def logo_store(*, business_id: int, upload, extension: str) -> str:
    """Save a checked logo under a new random name (versions already sent keep the old one)."""
    name = f"logos/{business_id}/{secrets.token_hex(8)}.{extension}"
    return default_storage.save(name, upload)


def logo_url(name: str, *, absolute: bool = False) -> str:
    """Where a stored logo is served ("" without one); ``absolute`` for emails."""
    if not name or not LOGO_NAME.match(name):
        return ""
    path = reverse("public:logo", args=[name])
    return f"{settings.SITE_URL}{path}" if absolute else path
