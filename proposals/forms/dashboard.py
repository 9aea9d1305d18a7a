"""The business's forms: the list's filters, clients, proposals, templates, settings, sending."""

import functools
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from common import money
from common.ids import MAX_ID
from proposals import rules
from proposals.forms.base import CURRENCY_CHOICES, note_field, rich_text_field, text_field
from proposals.models import Proposal


class ProposalFilterForm(forms.Form):
    """The list page's filters (GET); invalid values are ignored, never an error page.

    The client is typed, not picked from a list of every client (a big business has
    thousands): ``client_name`` is what the user typed, ``client`` the id of the client they
    chose from the search-as-you-type list (or that a link carries). Without JavaScript only
    the name arrives, and the page resolves it or offers the few clients it matches.
    """

    q = forms.CharField(label="Search", required=False, max_length=rules.MAX_SEARCH)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *Proposal.Status.choices]
    )
    client_name = forms.CharField(
        label="Client",
        required=False,
        max_length=rules.MAX_SEARCH,
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
        client_field = self.fields["client"]
        assert isinstance(client_field, forms.TypedChoiceField)  # declared just above
        client_field.choices = [("", "Choose a client")] + [(c.pk, str(c)) for c in clients]

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
        max_value=rules.MAX_REMINDER_DAYS,
        help_text="0 turns this reminder off.",
    )
    remind_unanswered_after_days = forms.IntegerField(
        label="Remind when not answered after (days)",
        min_value=0,
        max_value=rules.MAX_REMINDER_DAYS,
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
    message = note_field("Message to your client (optional)")
    # The revision the sender saw: a double submit or a stale page sends nothing twice.
    revision = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
