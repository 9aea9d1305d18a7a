"""Doors of the Wix integration: the webhook endpoint."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.webhooks import webhook_receive

READ_CHUNK = 8192


def _read_at_most(stream, limit: int) -> bytes:
    """Up to ``limit`` bytes of a stream that ends (``b""``) where its body does."""
    parts: list[bytes] = []
    remaining = limit
    while remaining > 0:
        part = stream.read(min(READ_CHUNK, remaining))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def webhook_body(request: HttpRequest) -> tuple[bytes | None, int]:
    """The body and its size, never holding more than ``WIX_WEBHOOK_MAX_BYTES`` + 1 bytes.

    With ``Content-Length`` an oversized body is never read: its declared size is all we keep
    (None). Without one (``Transfer-Encoding: chunked``) the server's decoded stream is read,
    bounded, when the server says it ends with the body (``wsgi.input_terminated``: gunicorn
    does); a body over the limit is cut there, its size known to be over the limit.
    """
    limit = settings.WIX_WEBHOOK_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH")
    if declared in (None, "") and request.META.get("wsgi.input_terminated"):
        body = _read_at_most(request.META["wsgi.input"], limit + 1)
        return (None if len(body) > limit else body), len(body)
    declared = declared or "0"
    # str.isdigit() accepts "²" and other digits int() refuses: only ASCII digits are a size.
    valid = declared.isascii() and declared.isdigit()
    size = int(declared) if valid else limit + 1
    return (None if size > limit else request.body), size


@csrf_exempt
@require_POST
def wix_webhook(request: HttpRequest) -> JsonResponse:
    """Store the delivery and answer at once; a task does the work (Wix waits 1,250 ms at most)."""
    body, size = webhook_body(request)
    receipt, status, reason = webhook_receive(body=body, size=size)
    receipt_id = receipt.pk if receipt else None
    if status != 200:
        return JsonResponse({"error": reason, "receipt_id": receipt_id}, status=status)
    return JsonResponse({"status": "accepted", "receipt_id": receipt_id})
