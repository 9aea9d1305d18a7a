"""Plumbing shared by the dashboard and client-page views (no business rules here)."""

import functools
import ipaddress
from collections.abc import Callable, Sequence
from typing import Concatenate, ParamSpec
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ipware import get_client_ip

from accounts.http import MemberRequest, is_member_request
from common import ratelimit
from common.keyset import InvalidCursor, KeysetPage, keyset_page

PAGE_SIZE = 25

P = ParamSpec("P")


def business_required(
    view: Callable[Concatenate[MemberRequest, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Signed in and working for a business; otherwise the login page or a clear page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_member_request(request):
            return render(request, "proposals/no_business.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def editor_with_new_row(request: HttpRequest):
    """The no-JavaScript "add item" / "add section" / "add payment" buttons and the catalog
    panel's search / add: the posted rows plus one, as (sections editor, schedule editor).

    None when the form was submitted to be saved.
    """
    from proposals.forms import ScheduleEditor, SectionsEditor
    from proposals.views._catalog import ACTIONS, catalog_action

    rebuilds = ("add_section", "add_item", "add_payment", *ACTIONS)
    if not any(name in request.POST for name in rebuilds):
        return None
    editor = SectionsEditor(request.POST).unbound_copy()
    if any(name in request.POST for name in ACTIONS):
        editor.catalog = catalog_action(request, editor)
    elif "add_section" in request.POST:
        editor.add_section()
    elif "add_item" in request.POST:
        try:
            editor.add_item(int(request.POST["add_item"]))
        except ValueError:
            pass
    schedule = ScheduleEditor(request.POST).unbound_copy(add_row="add_payment" in request.POST)
    return editor, schedule


def apply_editor_errors(form, exc: ValidationError, editor, schedule) -> None:
    """A service's refusal on the editor page: the sections' and the schedule's problems with
    their editors (and the summary at the top), the rest on the form's fields."""
    from proposals.forms import apply_validation_error

    if not hasattr(exc, "error_dict"):
        apply_validation_error(form, exc)
        return
    messages = exc.message_dict
    schedule.errors.extend(messages.get("payment_schedule", []))
    editor.errors.extend(messages.get("sections", []))
    rest = {field: errors for field, errors in messages.items() if field != "payment_schedule"}
    if rest:
        apply_validation_error(form, ValidationError(rest))


def paginate(request: HttpRequest, queryset, per_page: int = PAGE_SIZE):
    """A page of the queryset; a bad or too-large ``page`` gives the nearest real page.

    Numbered pages count the rows and skip with OFFSET: only for short lists. A list that can
    grow to thousands of rows uses ``paginate_keyset``.
    """
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


CURSOR_PARAM = "cursor"


def paginate_keyset(
    request: HttpRequest, queryset, *, ordering: Sequence[str], per_page: int = PAGE_SIZE
) -> KeysetPage:
    """A keyset page of the queryset from the request's ``cursor``: "Newer" / "Older" links.

    No COUNT and no OFFSET: page 2,000 costs what page 1 costs. A damaged or hand-made cursor
    gives the first page, as every bad filter value on the dashboard is simply dropped.
    """
    cursor = request.GET.get(CURSOR_PARAM) or None
    try:
        return keyset_page(queryset, ordering=ordering, cursor=cursor, per_page=per_page)
    except InvalidCursor:
        return keyset_page(queryset, ordering=ordering, cursor=None, per_page=per_page)


def upgrade_url(business) -> str:
    """Wix's page where the site owner picks a paid plan of this app (opened in a new tab)."""
    query = urlencode({"appInstanceId": business.instance_id})
    return f"https://www.wix.com/apps/upgrade/{quote(settings.WIX_APP_ID, safe='')}?{query}"


def query_without(request: HttpRequest, *names: str) -> str:
    """The request's query string without ``names`` (the filters a page link must keep)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP, trusting X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says.

    With N trusted proxies the client is the N-th address from the right of
    X-Forwarded-For (each proxy appends the address it received from); anything further left
    is whatever the client chose to send. Without trusted proxies only the socket address
    counts, which ipware reads (and validates) from REMOTE_ADDR.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies and _is_ip(forwarded[-proxies]):
            return forwarded[-proxies]
    ip, _ = get_client_ip(request, request_header_order=["REMOTE_ADDR"])
    return ip


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def user_agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "")[:500]


def rate_limited(*, scope: str, ip: str | None, rate: str) -> bool:
    """Count one hit for this IP in a fixed window; True once the limit is exceeded.

    The shared cache (Redis in production) holds the counters, so the limit holds across
    processes and machines. ``rate`` is a setting such as ``"10/hour"`` (``Rate.parse``).
    """
    counter = ratelimit.Limit(key=f"{scope}:{ip or 'unknown'}", rate=ratelimit.Rate.parse(rate))
    return not ratelimit.hit_one(counter).allowed


# The open proposal page carries the accept/decline forms. With "no-referrer" Chromium sends
# `Origin: null` on their POST, which Django's CSRF origin check rightly refuses; "same-origin"
# still never sends the URL (and its token) to any other site, and rich-text links carry
# rel="noreferrer" besides. Every other client-page response sends no referrer at all.
FORM_PAGE_REFERRER_POLICY = "same-origin"


def no_index(response: HttpResponse, *, referrer_policy: str = "no-referrer") -> HttpResponse:
    """Client pages are private: not indexed, not cached, no referrer leaks the token."""
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = referrer_policy
    response["Cache-Control"] = "private, no-store"
    return response


def preview_snapshot(*, proposal) -> dict:
    """The working copy in the shape of a sent snapshot, for the business's own preview."""
    from proposals import selectors

    return selectors.proposal_snapshot(proposal=proposal)


def public_items(snapshot: dict, totals, selected_keys: set[str] | None) -> list[dict]:
    """Sections of a snapshot with each item's computed line and whether it is ticked."""
    from proposals import selectors

    return selectors.snapshot_items(snapshot, totals, selected_keys)
