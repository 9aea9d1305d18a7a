"""Doors of the Wix integration: the webhook endpoint."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.webhooks import webhook_receive


@csrf_exempt
@require_POST
def wix_webhook(request: HttpRequest) -> JsonResponse:
    """Store the delivery and answer at once; a task does the work (Wix waits 1,250 ms at most)."""
    from django.conf import settings

    declared = request.META.get("CONTENT_LENGTH") or "0"
    # str.isdigit() accepts "²" and other digits int() refuses: only ASCII digits are a size.
    valid = declared.isascii() and declared.isdigit()
    size = int(declared) if valid else settings.WIX_WEBHOOK_MAX_BYTES + 1
    # Never read an oversized body into memory: its size is all we keep of it.
    body = None if size > settings.WIX_WEBHOOK_MAX_BYTES else request.body
    receipt, status, reason = webhook_receive(body=body, size=size)
    receipt_id = receipt.pk if receipt else None
    if status != 200:
        return JsonResponse({"error": reason, "receipt_id": receipt_id}, status=status)
    return JsonResponse({"status": "accepted", "receipt_id": receipt_id})
