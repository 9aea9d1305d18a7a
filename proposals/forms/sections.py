"""The editor's sections and line items: numbers read as the business writes them, row counts
checked so that no posted row is silently dropped."""

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from common.money import AmountError, format_number, number_example, parse_amount
from proposals import rules
from proposals.forms.base import text_field


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


def _percent_field(label: str) -> LocaleDecimalField:
    return LocaleDecimalField(
        max_digits=rules.PERCENT_DIGITS[0],
        decimal_places=rules.PERCENT_DIGITS[1],
        required=False,
        label=label,
        validators=[MinValueValidator(0), MaxValueValidator(rules.MAX_PERCENT)],
    )


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
    discount_percent = _percent_field("Discount %")
    tax_rate = _percent_field("Tax %")
    optional = forms.BooleanField(required=False, label="Optional")
    selected = forms.BooleanField(required=False, label="Preselected")
    # Set by "add from catalog" (the catalog item copied), kept as the row is edited.
    source = forms.CharField(
        required=False,
        max_length=rules.MAX_SOURCE,
        widget=forms.HiddenInput(attrs={"data-item-source": ""}),
    )

    NUMBER_FIELDS = ("quantity", "unit_price", "discount_percent", "tax_rate")

    def __init__(self, *args, locale: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in self.NUMBER_FIELDS:
            field = self.fields[name]
            assert isinstance(field, LocaleDecimalField)  # every NUMBER_FIELDS entry is one
            field.locale = locale

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
        try:
            data["source"] = rules.clean_source(data.get("source"))
        except ValidationError:
            self.add_error("name", "This row's catalog reference is damaged: remove the row.")
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
            "source": d.get("source") or "",
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
        # The "add from catalog" panel (proposals.views._catalog), set by the view.
        self.catalog: Any = None
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

    def add_line(self, section_index: int, line: dict) -> None:
        """A filled row (e.g. copied from the catalog) in the section: in place of its last
        row when that one is still empty, else after it."""
        block = next((b for b in self.blocks if b.index == section_index), self.blocks[-1])
        last = block.items[-1] if block.items else None
        at = len(block.items)
        if last is not None and not any(
            last.initial.get(name) for name in ("name", "description", "unit_price")
        ):
            at -= 1
            block.items.pop()
        block.items.append(self._item(prefix=f"{block.prefix}-i-{at}", initial=_item_initial(line)))

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
    initial["source"] = item.get("source") or ""
    return initial
