"""What every form here shares: text fields bounded by the rules, rich text, a service's errors."""

from django import forms
from django.core.exceptions import ValidationError

from common.money import CURRENCIES
from proposals import rules

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


def note_field(label: str) -> forms.CharField:
    """An optional note of a few lines: the sender's message, the client's decline reason."""
    return text_field(
        rules.MAX_MESSAGE, required=False, label=label, widget=forms.Textarea(attrs={"rows": 3})
    )


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
