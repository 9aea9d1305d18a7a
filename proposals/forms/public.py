"""The client's forms on the proposal page: accept (a typed signature) and decline."""

from django import forms

from proposals import rules
from proposals.forms.base import note_field, text_field


class AcceptForm(forms.Form):
    signed_name = text_field(
        rules.MAX_NAME, label="Your full name", help_text="Typing your name signs this proposal."
    )
    agreed = forms.BooleanField(
        label="I have read and accept this proposal and its terms.",
        error_messages={"required": "Tick the box to accept the proposal and its terms."},
    )


class DeclineForm(forms.Form):
    reason = note_field("Reason (optional)")
