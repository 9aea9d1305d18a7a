"""Small building blocks shared by the apps' admin modules (the support console).

``ScaleAdminMixin`` is what makes a changelist affordable on tables of millions of rows (issue
10): no COUNT(*) at all (a page is fetched with one row more to know whether another follows),
a bounded page number, only indexed columns sortable, filter choices read from recent rows
rather than a DISTINCT over the table, no facet counts, and a search that compares exactly
what an index holds (``lower(email)``, numbers, ids, request ids, tokens).
"""

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django.contrib import admin
from django.contrib.admin.filters import AllValuesFieldListFilter
from django.contrib.admin.options import IncorrectLookupParameters, ShowFacets
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery, prefetch_related_objects
from django.db.models.functions import Coalesce, Lower
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThan, StartsWith
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SUPPORT_PERMISSION = "accounts.run_support_actions"
# Past this many rows, OFFSET gets slow on big tables: a deeper page is refused, and support
# narrows the list with a filter or a search instead (the query-plan test holds the same bound).
MAX_OFFSET = 1000


def max_page(per_page: int) -> int:
    """The deepest changelist page whose OFFSET stays within ``MAX_OFFSET``."""
    return MAX_OFFSET // per_page + 1


# Filter choices for free-text columns come from this many of the newest rows.
RECENT_VALUES_ROWS = 1000
# "P-0042", "p42", "#42", "42": a proposal number or an id.
NUMBER = re.compile(r"^(?:P-?|#)?0*(\d{1,9})$", re.IGNORECASE)


def count_of(queryset, *, fk: str):
    """A per-row count as a correlated subquery: computed for the rows of the page only.

    A JOIN + GROUP BY annotation aggregates every matching row before the page is cut; on
    tables of millions that is the slow part of a changelist.
    """
    counted = (
        queryset.filter(**{fk: OuterRef("pk")})
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counted), 0)


def can_run_support_actions(request) -> bool:
    return request.user.is_active and request.user.has_perm(SUPPORT_PERMISSION)


def admin_url(obj, action: str = "change") -> str:
    """The admin URL of a model instance (``change``) or of its list (``changelist``)."""
    opts = obj._meta
    args = [obj.pk] if action == "change" else []
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{action}", args=args)
    except NoReverseMatch:
        return ""


def admin_link(obj, label: str | None = None) -> str:
    if obj is None:
        return "–"
    url = admin_url(obj)
    return format_html('<a href="{}">{}</a>', url, label or str(obj)) if url else str(obj)


# --- links to the support console's pages -----------------------------------------------------
# The apps' admins link a row's business and its request id to pages only the support console
# has: "business" (a business id → its support page) and "request" (a request id → its
# timeline). The console registers them from its AppConfig.ready(), so that neither common nor
# the apps know it; without it, a business links to its admin page and a request id is text.
SUPPORT_PAGES: dict[str, Callable[[Any], str]] = {}


def register_support_page(name: Literal["business", "request"], url: Callable[[Any], str]) -> None:
    SUPPORT_PAGES[name] = url


def business_link(obj) -> str:
    """The business of ``obj`` (a row that has one) as a link to its support page."""
    if obj.business_id is None:
        return "–"
    support_page = SUPPORT_PAGES.get("business")
    if support_page is None:
        return admin_link(obj.business)
    return format_html(
        '<a href="{}">{} – support page</a>', support_page(obj.business_id), obj.business
    )


class BusinessColumnMixin:
    """A "Business" column (or read-only field) for a model admin whose rows have a business."""

    @admin.display(description="Business")
    def business_link(self, obj) -> str:
        return business_link(obj)


def request_trace_link(request_id: str) -> str:
    """The request id as a link to its timeline (every record that carries it)."""
    if not request_id:
        return "–"
    timeline = SUPPORT_PAGES.get("request")
    if timeline is None:
        return request_id
    return format_html('<a href="{}">{}</a>', timeline(request_id), request_id)


# --- changelists at scale ----------------------------------------------------------------------
class LookaheadPaginator(Paginator):
    """A paginator that knows only whether a page follows: its count is never a COUNT(*)."""

    def __init__(self, object_list, per_page, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


class ScaleChangeList(ChangeList):
    """Fetches one page plus one row; the page count is "this one, and maybe the next".

    Related rows shown in the list (``list_select_related``, or the foreign keys in
    ``list_display``) are fetched for the page after the LIMIT, by primary key, instead of
    joined before it: the page query stays a walk down one index of one table, which the
    planner cannot turn into a join over millions of rows.
    """

    def apply_select_related(self, qs):
        return qs

    def page_relations(self) -> list[str]:
        if isinstance(self.list_select_related, list | tuple):
            return list(self.list_select_related)
        names = []
        for name in self.list_display:
            if not isinstance(name, str):
                continue  # a callable column
            try:
                field = self.lookup_opts.get_field(name)
            except FieldDoesNotExist:
                continue
            if isinstance(field, models.Field) and field.many_to_one and name != field.attname:
                names.append(name)
        return names

    def get_ordering_field(self, field_name):
        # An ``?o=`` for a column that is not offered as sortable is ignored, not obeyed.
        if self.sortable_by is not None and field_name not in self.sortable_by:
            return None
        return super().get_ordering_field(field_name)

    def get_results(self, request):
        per_page = self.list_per_page
        last_page = max_page(per_page)
        if self.page_num < 1 or self.page_num > last_page:
            raise IncorrectLookupParameters
        offset = (self.page_num - 1) * per_page
        rows = list(self.queryset[offset : offset + per_page + 1])
        if not rows and self.page_num > 1:
            raise IncorrectLookupParameters
        self.has_more = len(rows) > per_page and self.page_num < last_page
        rows = rows[:per_page]
        prefetch_related_objects(rows, *self.page_relations())
        self.result_count = offset + len(rows) + (1 if self.has_more else 0)
        self.show_full_result_count = False
        self.full_result_count = None
        self.show_admin_actions = True
        self.result_list = rows
        self.can_show_all = False
        self.multi_page = self.page_num > 1 or self.has_more
        self.paginator = LookaheadPaginator(rows, per_page, count=self.result_count)


class RecentValuesFilter(AllValuesFieldListFilter):
    """The values of a free-text column seen in the newest rows (not a DISTINCT over all)."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        if "__" in field_path:
            raise ImproperlyConfigured("RecentValuesFilter takes a column of the model itself")
        # Newest by id where ids grow; else in the list's own (index-served) order.
        ordering = ["-pk"]
        if not isinstance(model._meta.pk, models.AutoField):
            ordering = [*(model_admin.get_ordering(request) or model._meta.ordering), "-pk"]
        newest = model._default_manager.order_by(*ordering).values_list(field_path, flat=True)
        seen = set(newest[:RECENT_VALUES_ROWS])
        self.lookup_choices = sorted(seen, key=lambda v: (v is None, v or ""))

    def has_output(self) -> bool:
        return bool(self.lookup_choices)


def _resolve(model, path: str) -> tuple[list, models.Field]:
    """The relation fields along ``path`` and its last field ("client__email" → [client], email)."""
    hops, current = [], model
    parts = path.split("__")
    for part in parts[:-1]:
        field = current._meta.get_field(part)
        hops.append(field)
        current = field.related_model
    last = current._meta.pk if parts[-1] == "pk" else current._meta.get_field(parts[-1])
    return hops, last


def _url_prefixes(term: str) -> list[str]:
    if "://" in term:
        return [term]
    bare = term.removeprefix("www.")
    return [f"https://{bare}", f"https://www.{bare}", f"http://{bare}", f"http://www.{bare}"]


def _prefix(expression, prefix: str) -> Q:
    """``expression LIKE 'prefix%'`` that a plain b-tree index serves in any collation.

    PostgreSQL uses a b-tree for LIKE only under the "C" collation (not "C.UTF-8"), so the
    prefix is also given as the range [prefix, prefix + U+10FFFF), which an index walks;
    in code point order (C.UTF-8, SQLite) that range holds exactly the strings with the prefix.
    """
    return Q(
        GreaterThanOrEqual(expression, prefix),
        LessThan(expression, prefix + "\U0010ffff"),
        StartsWith(expression, prefix),
    )


def search_condition(model, spec: str, term: str) -> Q | None:
    """One index-friendly condition for one search field and term, or None if it cannot match.

    ``=path``: exact. An email column is compared as ``lower(col) = lower(term)`` (the
    expression indexes), only for terms with an "@"; an integer column (ids, numbers) only for
    "42" / "P-0042" / "#42"; any other column exactly, for terms without "@". ``^path``: a
    case-insensitive prefix on ``lower(col)`` (URL columns also try the scheme prefixes).
    A path through a relation becomes ``fk IN (SELECT pk FROM related WHERE …)`` so that
    conditions on the row's own columns can still be OR'ed through their own indexes.
    """
    if spec[:1] not in "=^":
        raise ImproperlyConfigured(f"search field {spec!r}: use '=' (exact) or '^' (prefix)")
    mode, path = spec[0], spec[1:]
    hops, field = _resolve(model, path)
    column = path.split("__", len(hops))[-1]
    if mode == "^":
        if "@" in term and not isinstance(field, models.EmailField):
            return None
        prefixes = _url_prefixes(term) if isinstance(field, models.URLField) else [term]
        condition = Q()
        for prefix in prefixes:
            condition |= _prefix(Lower(column), prefix.lower())
    elif isinstance(field, models.EmailField):
        if "@" not in term:
            return None
        condition = Q(Exact(Lower(column), term.lower()))
    elif isinstance(field, models.IntegerField | models.AutoField | models.ForeignKey):
        number = NUMBER.match(term)
        if not number or (field.name != "number" and term[:1] in "pP"):
            return None  # "P-0042" is a proposal number, never an id
        condition = Q(**{column: int(number.group(1))})
    else:
        if "@" in term or " " in term or len(term) > (field.max_length or 10_000):
            return None
        condition = Q(**{column: term})
    if not hops:
        return condition
    hop = hops[0]
    if len(hops) == 1 and (field.unique or field.primary_key) and not hop.many_to_many:
        # A unique key (an instance id, a token): look the row up first, so the condition
        # becomes one on this table's own columns (its foreign key, or its id for a reverse
        # relation) and ORs with the others through their indexes.
        related = hop.related_model._default_manager.filter(condition)
        if hop.concrete:
            ids = list(related.values_list("pk", flat=True)[:10])
            return Q(**{f"{hop.name}__in": ids}) if ids else None
        ids = list(related.values_list(hop.field.attname, flat=True)[:10])
        return Q(pk__in=ids) if ids else None
    if any(not h.concrete for h in hops):
        raise ImproperlyConfigured(f"search field {spec!r}: a reverse relation needs a unique key")
    # Walk back from the related model to this one, innermost first.
    for depth in range(len(hops) - 1, -1, -1):
        related = hops[depth].related_model._default_manager
        condition = Q(**{f"{hops[depth].name}__in": related.filter(condition).values("pk")})
    return condition


def search_queryset(queryset, search_fields, term: str):
    """The rows matching ``term`` in the first of ``search_fields`` that matches any.

    Never an OR of two fields: ``token = x OR business_id = 7`` is a bitmap OR that must sort
    every row of business 7 before the LIMIT (3 s for a business's 49,000 versions). Each field
    alone is one index range the list's order can walk; a term is a token or an instance id,
    not both, so the first field with a match (one ``EXISTS`` probe each, in the order the
    admin lists them) is the answer.
    """
    term = term.strip()
    if not term:
        return queryset
    conditions = [
        condition
        for spec in search_fields
        if (condition := search_condition(queryset.model, spec, term)) is not None
    ]
    if not conditions:
        return queryset.none()
    for condition in conditions[:-1]:
        if queryset.filter(condition).exists():
            return queryset.filter(condition)
    return queryset.filter(conditions[-1])


class ScaleAdminMixin:
    """Every admin of the console: a changelist that stays fast on millions of rows.

    Subclasses declare ``sortable_by`` with the columns an index can order (default: none but
    the default ordering, which must itself be index-served) and ``search_fields`` with ``=``
    (exact) or ``^`` (prefix) entries only (see ``search_condition``).
    """

    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    list_max_show_all = 0
    # ClassVars as ModelAdmin declares them, so that the admins mixing this in may override them.
    sortable_by: ClassVar[list[str] | tuple[str, ...] | None] = ()
    search_help_text: ClassVar["StrOrPromise | None"] = (
        "Exact: an email, a number (P-0042), an id, a request id or a token."
    )

    def get_changelist(self, request, **kwargs):
        return ScaleChangeList

    def get_search_results(self, request, queryset, search_term):
        return search_queryset(queryset, self.get_search_fields(request), search_term), False


class HistoryAdmin(ScaleAdminMixin, admin.ModelAdmin):
    """Rows that record what happened: visible to support, never added, edited or deleted here.

    Pruning is the retention jobs' work; changing history would make support answers wrong.
    """

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_support_permission(self, request) -> bool:
        return can_run_support_actions(request)


class HistoryInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
