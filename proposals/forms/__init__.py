"""Dashboard and client-page forms: input shape and field errors only, no business rules.

The services validate again (and own every rule); these forms give the user errors next to the
field before a service is called, and carry the service's own ``ValidationError`` back.
By family: ``base`` (shared fields and helpers), ``dashboard`` (the business's forms),
``public`` (the client's), ``sections`` (the editor's sections and line items).
"""

from proposals.forms.base import (
    CURRENCY_CHOICES,
    RICH_TEXT_HELP,
    RichTextarea,
    apply_validation_error,
    note_field,
    rich_text_field,
    text_field,
)
from proposals.forms.dashboard import (
    ClientForm,
    ProposalFilterForm,
    ProposalForm,
    SendForm,
    SettingsForm,
    TemplateForm,
    locale_choices,
    timezone_choices,
)
from proposals.forms.public import AcceptForm, DeclineForm
from proposals.forms.schedule import DepositForm, MilestoneForm, ScheduleEditor
from proposals.forms.sections import (
    LineItemForm,
    LocaleDecimalField,
    SectionBlock,
    SectionForm,
    SectionsEditor,
)

__all__ = [
    "CURRENCY_CHOICES",
    "RICH_TEXT_HELP",
    "AcceptForm",
    "ClientForm",
    "DeclineForm",
    "DepositForm",
    "LineItemForm",
    "LocaleDecimalField",
    "MilestoneForm",
    "ProposalFilterForm",
    "ProposalForm",
    "RichTextarea",
    "ScheduleEditor",
    "SectionBlock",
    "SectionForm",
    "SectionsEditor",
    "SendForm",
    "SettingsForm",
    "TemplateForm",
    "apply_validation_error",
    "locale_choices",
    "note_field",
    "rich_text_field",
    "text_field",
    "timezone_choices",
]
