"""The business's brand as its clients see it: its name (``brand_name``) and its logo.

The logo is checked on upload (decoded by Pillow: its type read from its content, its bytes
and pixels bounded), stored through Django's storage API, served by the client page's
``public:logo`` route.

Only raster formats a mail client shows are taken (PNG, JPEG, WebP): an SVG can carry script,
and the file's name or declared content type prove nothing about what it holds.
"""

import re
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image

# The name a client reads when the business gave none and its Wix site has no name either.
BRAND_NAME_FALLBACK = "Your supplier"
LOGO_MAX_BYTES = 512 * 1024
# Pixels on each side: smaller is a blur in the page header; larger is no logo (and 512 KB of
# PNG can hold a 20000 × 20000 image that takes gigabytes to decode: the size is read from the
# header and refused before anything is decoded).
LOGO_MIN_SIDE = 16
LOGO_MAX_SIDE = 4000
# The content type each accepted format is served with, by the extension it is stored under.
LOGO_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
# What ``logo_store`` names a file: the route serves nothing else.
LOGO_NAME = re.compile(r"^logos/\d+/[0-9a-f]{16}\.(png|jpg|webp)\Z")


# Pillow's format name → the extension stored; only these decoders are ever tried.
_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
# What Pillow raises on a file that is not (all) the image it claims to be.
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError)


def _too_large(size: str) -> ValidationError:
    limit = f"at most {LOGO_MAX_SIDE} pixels on each side, please"
    return ValidationError({"logo": f"The logo is too large{size}: {limit}."})


def _decoded(upload) -> str:
    """The stored extension of an image Pillow decodes whole, within the pixel bounds."""
    try:
        with Image.open(upload, formats=list(_FORMATS)) as image:
            width, height = image.size
            if max(width, height) > LOGO_MAX_SIDE:
                raise _too_large(f" ({width} × {height} pixels)")
            if min(width, height) < LOGO_MIN_SIDE:
                raise ValidationError(
                    {"logo": f"The logo is too small ({width} × {height} pixels): "
                     f"at least {LOGO_MIN_SIDE} pixels on each side, please."}
                )  # fmt: skip
            image.load()  # a header alone proves nothing: the whole image must decode
            return _FORMATS[str(image.format)]  # one of _FORMATS: the only decoders tried
    except Image.DecompressionBombError:  # so many pixels that Pillow will not even open it
        raise _too_large("") from None
    except _UNREADABLE:
        raise ValidationError({"logo": "Upload the logo as a PNG, JPEG or WebP image."}) from None


def logo_check(upload) -> str:
    """The stored extension of an uploaded logo; a ``ValidationError`` on ``logo`` otherwise."""
    if upload.size > LOGO_MAX_BYTES:
        raise ValidationError(
            {"logo": f"The logo is too large: at most {LOGO_MAX_BYTES // 1024} KB, please."}
        )
    if upload.size == 0:
        raise ValidationError({"logo": "The file is empty."})
    upload.seek(0)
    try:
        return _decoded(upload)
    finally:
        upload.seek(0)


def logo_store(*, business_id: int, upload, extension: str) -> str:
    """Save a checked logo under a new random name (versions already sent keep the old one)."""
    name = f"logos/{business_id}/{secrets.token_hex(8)}.{extension}"
    return default_storage.save(name, upload)


def logos_delete(*, business_id: int) -> None:
    """Delete every logo the business stored (the current one and those older versions show)."""
    folder = f"logos/{business_id}"
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in names:
        default_storage.delete(f"{folder}/{name}")


def logo_url(name: str, *, absolute: bool = False) -> str:
    """Where a stored logo is served ("" without one); ``absolute`` for emails."""
    if not name or not LOGO_NAME.match(name):
        return ""
    path = reverse("public:logo", args=[name])
    return f"{settings.SITE_URL}{path}" if absolute else path


def brand_name(*, chosen: str, site_name: str) -> str:
    """The business's name as its clients see it: the one chosen in settings, else the site's."""
    return chosen or site_name or BRAND_NAME_FALLBACK
