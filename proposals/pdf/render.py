"""A version (or an acceptance) as PDF bytes: identical input gives identical bytes.

WeasyPrint writes no creation date and no file identifier unless asked; both are set here
from the content itself (the version's sent time or the acceptance's time, and its content
fingerprint), so rendering the same version twice, on any day, gives the same bytes.
"""

import functools
import mimetypes
import re
import time
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import unquote, urlsplit

import structlog
import weasyprint
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.storage import default_storage
from django.template.loader import render_to_string
from django.urls import reverse
from PIL import ImageFile
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from common.locale_middleware import as_the_business_writes
from proposals import branding, rules, selectors
from proposals.models import Acceptance, ProposalVersion

log = structlog.get_logger(__name__)

# Importing WeasyPrint sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, which would let a
# truncated logo pass the upload check (proposals.branding) in any process that rendered a
# PDF. Logos are checked whole on upload, so the PDF never needs it: put it back.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# Relative addresses in the PDF's HTML resolve against this; it names no real host, and
# ``LocalFetcher`` answers only for the project's own files under it: nothing is fetched over
# the network while a PDF renders.
BASE_URL = "http://pdf.invalid/"
_STATIC_NAME = re.compile(r"^[A-Za-z0-9_./-]+\Z")


class RefusedFetch(ValueError):
    """A resource the PDF asked for that is not one of the project's own files."""


def _static_bytes(name: str) -> bytes:
    if ".." in name.split("/") or name.startswith("/"):
        raise RefusedFetch(name)
    path = finders.find(name)
    if path:
        with open(path, "rb") as handle:
            return handle.read()
    if staticfiles_storage.exists(name):  # collected (and hashed) files in production
        with staticfiles_storage.open(name) as handle:
            return handle.read()
    raise RefusedFetch(name)


class LocalFetcher(URLFetcher):
    """WeasyPrint's fetcher, limited to static files and stored logos read locally.

    Never opens a connection (it does not call ``URLFetcher.fetch``): anything else is refused
    and logged, and WeasyPrint renders without it.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("http",), allow_redirects=False)

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        return URLFetcherResponse(url, _local_bytes(url), {"Content-Type": _mime_type(url)})


def _mime_type(url: str) -> str:
    return mimetypes.guess_type(urlsplit(url).path)[0] or "application/octet-stream"


def _local_bytes(url: str) -> bytes:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if f"{parts.scheme}://{parts.netloc}/" == BASE_URL and not parts.query:
        static_prefix = "/" + settings.STATIC_URL.lstrip("/")
        logo_prefix = reverse("public:logo", args=["x"])[:-1]
        if path.startswith(static_prefix) and _STATIC_NAME.match(path[len(static_prefix) :]):
            return _static_bytes(path[len(static_prefix) :])
        name = path.removeprefix(logo_prefix)
        if path.startswith(logo_prefix) and branding.LOGO_NAME.match(name):
            if default_storage.exists(name):
                with default_storage.open(name) as handle:
                    return handle.read()
    log.warning("pdf_fetch_refused", url=url[:200])
    raise RefusedFetch(url[:200])


@dataclass(frozen=True)
class Rendered:
    """A rendered PDF and how long it took."""

    data: bytes
    duration_ms: int


def document_html(*, version: ProposalVersion, acceptance: Acceptance | None) -> str:
    """The PDF's HTML: the client page's header, sections and totals; the signature if signed."""
    snapshot = version.snapshot
    business = version.proposal.business
    if acceptance is not None:
        content = selectors.accepted_content(acceptance=acceptance)
        sections, totals = content.sections, content.totals
        created = acceptance.accepted_at
    else:
        totals = rules.snapshot_totals(snapshot, None)
        sections = selectors.snapshot_items(snapshot, totals, None)
        created = version.sent_at
    with as_the_business_writes(business):
        return render_to_string(
            "pdf/proposal.html",
            {
                "version": version,
                "snapshot": snapshot,
                "brand": snapshot.get("business", {}),
                "sections": sections,
                "totals": totals,
                "acceptance": acceptance,
                # W3C date for the PDF's CreationDate/ModDate: the content's own time.
                "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        )


def render(*, version: ProposalVersion, acceptance: Acceptance | None = None) -> Rendered:
    """The PDF of ``version`` as sent, or as signed when ``acceptance`` is given."""
    started = time.perf_counter()
    html = document_html(version=version, acceptance=acceptance)
    fingerprint = acceptance.content_hash if acceptance is not None else version.content_hash
    # The file identifier (the trailer's /ID): the content's fingerprint, never random.
    data = html_to_pdf(html, identifier=fingerprint[:32])
    duration_ms = round((time.perf_counter() - started) * 1000)
    return Rendered(data=data, duration_ms=duration_ms)


# The style sheets every PDF uses, parsed once per process (a third of a render otherwise).
STYLESHEETS = ("css/app.css", "css/proposals.css", "css/pdf.css")


@functools.cache
def _fonts() -> FontConfiguration:
    return FontConfiguration()


@functools.cache
def _stylesheets() -> tuple[weasyprint.CSS, ...]:
    return tuple(
        weasyprint.CSS(
            string=_static_bytes(name).decode(),
            base_url=f"{BASE_URL}static/{name}",
            url_fetcher=LocalFetcher(),
            font_config=_fonts(),
        )
        for name in STYLESHEETS
    )


def html_to_pdf(html: str, *, identifier: str) -> bytes:
    """PDF bytes of the document HTML, with the project's style sheets and nothing fetched."""
    document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=LocalFetcher())
    data = document.write_pdf(
        stylesheets=list(_stylesheets()),
        font_config=_fonts(),
        pdf_identifier=identifier.encode(),
    )
    return bytes(data or b"")
