"""Dashboard and client-page forms: input shape and field errors only, no business rules.

The services validate again (and own every rule); these forms give the user errors next to the
field before a service is called, and carry the service's own ``ValidationError`` back.
"""

import functools
import re
import zoneinfo
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator

from common import money
from common.ids import MAX_ID
from common.money import CURRENCIES, AmountError, format_number, number_example, parse_amount
from proposals import rules
from proposals.models import Proposal

CURRENCY_CHOICES = [(code, code) for code in sorted(CURRENCIES)]
RICH_TEXT_HELP = "Basic formatting is kept (paragraphs, bold, lists, links); scripts are removed."


class RichTextarea(forms.Textarea):
    """HTML typed in a textarea, which static/js/editor.js turns into the Trix editor."""

    def __init__(self, attrs=None) -> None:
        super().__init__({"rows": 4, "data-rich-text": "", **(attrs or {})})


def text_field(limit: int, **kwargs) -> forms.CharField:
    """A text field refused beyond ``limit`` with the message the API and services give."""
    return forms.CharField(
        max_length=limit, error_messages={"max_length": rules.too_long(limit)}, **kwargs
    )


def rich_text_field() -> forms.CharField:
    return text_field(rules.MAX_TEXT, required=False, widget=RichTextarea, help_text=RICH_TEXT_HELP)


def apply_validation_error(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: known fields next to them, others on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


class ProposalFilterForm(forms.Form):
    """The list page's filters (GET); invalid values are ignored, never an error page.

    The client is typed, not picked from a list of every client (a big business has
    thousands): ``client_name`` is what the user typed, ``client`` the id of the client they
    chose from the search-as-you-type list (or that a link carries). Without JavaScript only
    the name arrives, and the page resolves it or offers the few clients it matches.
    """

    q = forms.CharField(label="Search", required=False, max_length=200)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *Proposal.Status.choices]
    )
    client_name = forms.CharField(
        label="Client",
        required=False,
        max_length=200,
        help_text="Start of the client's name or email.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    client = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )


class ClientForm(forms.Form):
    name = text_field(rules.MAX_NAME)
    email = forms.EmailField(max_length=254)
    company = text_field(rules.MAX_NAME, required=False)


class ProposalForm(forms.Form):
    """The proposal's own fields; its sections and items come from ``SectionsEditor``."""

    title = text_field(rules.MAX_NAME)
    client = forms.TypedChoiceField(coerce=int, empty_value=None)
    currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    valid_until = forms.DateField(
        required=False,
        help_text="The proposal expires at the end of this day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    intro = rich_text_field()
    terms = rich_text_field()
    revision = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, clients=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.clients_by_pk = {c.pk: c for c in clients}
        self.fields["client"].choices = [("", "Choose a client")] + [
            (c.pk, str(c)) for c in clients
        ]

    def clean_client(self):
        pk = self.cleaned_data["client"]
        if pk not in self.clients_by_pk:
            raise ValidationError("Choose one of your clients.")
        return self.clients_by_pk[pk]


class TemplateForm(forms.Form):
    name = text_field(rules.MAX_NAME, help_text="Only you see this name.")
    title = text_field(rules.MAX_NAME, required=False, label="Proposal title")
    intro = rich_text_field()
    terms = rich_text_field()


@functools.cache
def timezone_choices() -> list[tuple[str, str]]:
    """The IANA zones a business can pick (read once: listing them walks the tz database)."""
    names = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return [(name, name.replace("_", " ")) for name in names]


def locale_choices() -> list[tuple[str, str]]:
    """The supported locales by their CLDR names, after "as the Wix site has it" ("")."""
    return [("", "As your Wix site has it"), *money.locale_choices()]


class SettingsForm(forms.Form):
    brand_name = text_field(
        rules.MAX_NAME, required=False, help_text="Shown to clients; your site name if empty."
    )
    brand_color = forms.CharField(
        max_length=7,
        label="Brand colour",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #116dff.")],
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    remind_unopened_after_days = forms.IntegerField(
        label="Remind when not opened after (days)",
        min_value=0,
        max_value=365,
        help_text="0 turns this reminder off.",
    )
    remind_unanswered_after_days = forms.IntegerField(
        label="Remind when not answered after (days)",
        min_value=0,
        max_value=365,
        help_text="0 turns this reminder off.",
    )
    default_currency = forms.ChoiceField(choices=CURRENCY_CHOICES)
    locale = forms.ChoiceField(
        label="Language and country for amounts",
        choices=locale_choices,
        required=False,  # "" follows the Wix site's language and country again
        help_text="How amounts are written on your pages, emails and in the admin.",
    )
    timezone = forms.ChoiceField(
        label="Time zone",
        choices=timezone_choices,
        required=False,  # not sent: the business's zone stays as it is
        help_text="Valid-until dates end at midnight here; the monthly counts start here.",
    )
    logo = forms.FileField(
        required=False,
        help_text="PNG, JPEG or WebP, at most 512 KB; shown on your proposals and emails.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the logo")


class SendForm(forms.Form):
    message = text_field(
        rules.MAX_MESSAGE,
        required=False,
        label="Message to your client (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    # The revision the sender saw: a double submit or a stale page sends nothing twice.
    revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class AcceptForm(forms.Form):
    signed_name = text_field(
        rules.MAX_NAME, label="Your full name", help_text="Typing your name signs this proposal."
    )
    agreed = forms.BooleanField(
        label="I have read and accept this proposal and its terms.",
        error_messages={"required": "Tick the box to accept the proposal and its terms."},
    )


class DeclineForm(forms.Form):
    reason = text_field(
        rules.MAX_MESSAGE,
        required=False,
        label="Reason (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- sections and line items ---------------------------------------------------------------
class LocaleDecimalField(forms.DecimalField):
    """A number typed as the business writes it (``1,5`` in de-DE), read by ``common.money``.

    A text input with ``inputmode=decimal``: a ``type=number`` input silently drops what the
    browser's own locale doesn't read (``1,5`` became ``15``) before the server sees it.
    ``locale`` None means the current request's (``common.money.current_locale``).
    """

    widget = forms.TextInput

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.locale: str | None = None

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update(inputmode="decimal", autocomplete="off", spellcheck="false")
        return attrs

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return parse_amount(str(value), self.locale)
        except AmountError as exc:
            raise ValidationError(str(exc), code="invalid") from exc

    def prepare_value(self, value):
        """Stored values shown as the locale types them (``1.5`` → ``1,5``); typed text as-is."""
        if isinstance(value, Decimal) and value.is_finite():
            return format_number(value, self.locale)
        return value


class SectionForm(forms.Form):
    title = text_field(rules.MAX_NAME, required=False, label="Section title")


class LineItemForm(forms.Form):
    """One priced row. A row left completely blank is ignored rather than an error."""

    name = text_field(rules.MAX_NAME, required=False, label="Item")
    description = text_field(rules.MAX_TEXT, required=False, label="Description")
    quantity = LocaleDecimalField(
        max_digits=rules.QUANTITY_DIGITS[0],
        decimal_places=rules.QUANTITY_DIGITS[1],
        min_value=0,
        initial=Decimal("1"),
        required=False,
    )
    unit_price = LocaleDecimalField(
        max_digits=rules.UNIT_PRICE_DIGITS[0],
        decimal_places=rules.UNIT_PRICE_DIGITS[1],
        min_value=0,
        required=False,
        label="Unit price",
    )
    discount_percent = LocaleDecimalField(
        max_digits=rules.PERCENT_DIGITS[0],
        decimal_places=rules.PERCENT_DIGITS[1],
        required=False,
        label="Discount %",
        validators=[MinValueValidator(0), MaxValueValidator(rules.MAX_PERCENT)],
    )
    tax_rate = LocaleDecimalField(
        max_digits=rules.PERCENT_DIGITS[0],
        decimal_places=rules.PERCENT_DIGITS[1],
        required=False,
        label="Tax %",
        validators=[MinValueValidator(0), MaxValueValidator(rules.MAX_PERCENT)],
    )
    optional = forms.BooleanField(required=False, label="Optional")
    selected = forms.BooleanField(required=False, label="Preselected")

    NUMBER_FIELDS = ("quantity", "unit_price", "discount_percent", "tax_rate")

    def __init__(self, *args, locale: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.NUMBER_FIELDS:
            self.fields[name].locale = locale

    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not (data.get("name") or data.get("description") or data.get("unit_price"))

    def clean(self):
        data = super().clean()
        if self.is_blank():
            return data
        if not data.get("name"):
            self.add_error("name", "Give this item a name.")
        if data.get("unit_price") is None and "unit_price" not in self.errors:
            self.add_error("unit_price", "Enter a price (0 is fine).")
        return data

    def as_item(self) -> dict:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "description": d.get("description") or "",
            "quantity": d["quantity"] if d.get("quantity") is not None else Decimal("1"),
            "unit_price": d["unit_price"],
            "discount_percent": d.get("discount_percent") or Decimal("0"),
            "tax_rate": d.get("tax_rate") or Decimal("0"),
            "optional": bool(d.get("optional")),
            "selected": bool(d.get("selected")) if d.get("optional") else True,
        }


class SectionBlock:
    """A section form with its item forms (what the editor template loops over)."""

    def __init__(self, index: int, form: SectionForm, items: list[LineItemForm]) -> None:
        self.index = index
        self.form = form
        self.items = items
        self.prefix = f"s-{index}"


class SectionsEditor:
    """Sections of line items posted as ``s-<i>-title`` and ``s-<i>-i-<j>-<field>``.

    Counts travel in hidden fields (``s-count``, ``s-<i>-i-count``). Without JavaScript the
    "add item" / "add section" buttons post the form back with one more empty row; with
    JavaScript (static/js/editor.js) a row is cloned in place and the count bumped. A count
    that is not a whole number in range, or that leaves posted rows out, is an error on the
    form: nothing is saved rather than line items silently dropped.

    A count beyond what a proposal may hold (``rules.MAX_SECTIONS`` sections, ``MAX_ITEMS``
    lines) is refused with the rule's own message; the service counts the lines of every
    section together.

    Numbers are read and shown as ``locale`` writes them (None: the request's locale).
    """

    DAMAGED = (
        "The line items arrived incomplete (the editor's row counts are damaged), so nothing "
        "was saved. Reload the page and enter them again."
    )
    _ROW_KEY = re.compile(r"^s-(\d+)-(?:title|i-(\d+)-[a-z_]+)$")

    def __init__(
        self,
        data=None,
        *,
        initial: list[dict] | None = None,
        extra_items: int = 1,
        locale: str | None = None,
    ):
        self.data = data
        self.locale = locale
        self.blocks: list[SectionBlock] = []
        self.errors: list[str] = []
        if data is not None:
            self._bind(data)
        else:
            self._unbound(initial or [], extra_items)

    @property
    def number_example(self) -> str:
        return number_example(self.locale)

    def _error(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)

    def _count(self, data, key: str, maximum: int, too_many: str) -> int | None:
        """The posted count, None when absent; a damaged or too large one is an error (0)."""
        raw = data.get(key)
        if raw is None:
            return None
        text = str(raw).strip()
        if not (text.isascii() and text.isdigit()):
            self._error(self.DAMAGED)
        elif int(text) > maximum:
            self._error(too_many)
        else:
            return int(text)
        return 0

    def _item(self, data=None, *, prefix: str, initial: dict | None = None) -> "LineItemForm":
        return LineItemForm(data, initial=initial, prefix=prefix, locale=self.locale)

    def _bind(self, data) -> None:
        sections = self._count(data, "s-count", rules.MAX_SECTIONS, rules.TOO_MANY_SECTIONS)
        item_counts = []
        for i in range(sections or 0):
            prefix = f"s-{i}"
            count = self._count(data, f"{prefix}-i-count", rules.MAX_ITEMS, rules.TOO_MANY_ITEMS)
            count = count or 0
            item_counts.append(count)
            items = [self._item(data, prefix=f"{prefix}-i-{j}") for j in range(count)]
            self.blocks.append(SectionBlock(i, SectionForm(data, prefix=prefix), items))
        if not self.errors:  # rows beyond a refused count are not damage
            self._check_rows_counted(data, item_counts)
        if not self.blocks:
            self.blocks.append(SectionBlock(0, SectionForm(data, prefix="s-0"), []))

    def _check_rows_counted(self, data, item_counts: list[int]) -> None:
        """Every posted row field lies inside the counts: none would be silently ignored."""
        for key in data.keys():
            match = self._ROW_KEY.match(key)
            if match is None or not (data.get(key) or "").strip():
                continue
            section, item = int(match[1]), match[2]
            if section >= len(item_counts) or (
                item is not None and int(item) >= item_counts[section]
            ):
                self._error(self.DAMAGED)
                return

    def _unbound(self, sections: list[dict], extra_items: int, *, typed: bool = False) -> None:
        if not sections:
            sections = [{"title": "", "items": []}]
        for i, section in enumerate(sections):
            prefix = f"s-{i}"
            items = [
                self._item(prefix=f"{prefix}-i-{j}", initial=item if typed else _item_initial(item))
                for j, item in enumerate(section.get("items") or [])
            ]
            for j in range(len(items), len(items) + extra_items):
                items.append(self._item(prefix=f"{prefix}-i-{j}"))
            form = SectionForm(initial={"title": section.get("title", "")}, prefix=prefix)
            self.blocks.append(SectionBlock(i, form, items))

    def unbound_copy(self) -> "SectionsEditor":
        """The posted rows as initial values: re-shown after "add a row" without field errors.

        Typed numbers are kept as typed (``1.000`` in de-DE stays ``1.000``); a damaged count
        stays an error.
        """
        sections = []
        for block in self.blocks:
            items = [{name: item[name].value() for name in item.fields} for item in block.items]
            sections.append({"title": block.form["title"].value() or "", "items": items})
        copy = SectionsEditor(initial=[], extra_items=0, locale=self.locale)
        copy.blocks = []
        copy._unbound(sections, 0, typed=True)
        copy.errors = list(self.errors)
        return copy

    def add_item(self, section_index: int) -> None:
        for block in self.blocks:
            if block.index == section_index:
                block.items.append(self._item(prefix=f"{block.prefix}-i-{len(block.items)}"))

    def add_section(self) -> None:
        i = len(self.blocks)
        prefix = f"s-{i}"
        self.blocks.append(
            SectionBlock(i, SectionForm(prefix=prefix), [self._item(prefix=f"{prefix}-i-0")])
        )

    def is_valid(self) -> bool:
        ok = not self.errors
        for block in self.blocks:
            ok = block.form.is_valid() and ok
            for item in block.items:
                ok = item.is_valid() and ok
        return ok

    def cleaned_sections(self) -> list[dict]:
        """Sections with at least a title or one non-blank item, in posted order."""
        sections = []
        for block in self.blocks:
            items = [item.as_item() for item in block.items if not item.is_blank()]
            title = block.form.cleaned_data.get("title", "")
            if items or title:
                sections.append({"title": title, "items": items})
        return sections

    def item_count(self) -> int:
        return sum(len(block.items) for block in self.blocks)


def _stored_number(value: object) -> object:
    """A stored decimal as a ``Decimal`` (the field shows it in the locale); else as it is."""
    if value in (None, "") or isinstance(value, bool):
        return value
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    return number if number.is_finite() else value


def _item_initial(item: dict) -> dict:
    initial = {"name": item.get("name"), "description": item.get("description")}
    for key in LineItemForm.NUMBER_FIELDS:
        initial[key] = _stored_number(item.get(key))
    initial["optional"] = bool(item.get("optional"))
    initial["selected"] = bool(item.get("selected", True))
    return initial
