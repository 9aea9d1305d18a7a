from django.urls import include, path

from proposals.views import (
    clients,
    dashboard,
    documents,
    editor,
    proposal_list,
    settings,
    templates,
)

app_name = "dashboard"

urlpatterns = [
    path("", proposal_list.proposal_list, name="proposal_list"),
    path("proposals/new", editor.proposal_create, name="proposal_create"),
    path("proposals/<int:pk>/", dashboard.proposal_detail, name="proposal_detail"),
    path("proposals/<int:pk>/edit", editor.proposal_edit, name="proposal_edit"),
    path("proposals/<int:pk>/send", dashboard.proposal_send, name="proposal_send"),
    path("proposals/<int:pk>/withdraw", dashboard.proposal_withdraw, name="proposal_withdraw"),
    path("proposals/<int:pk>/duplicate", dashboard.proposal_duplicate, name="proposal_duplicate"),
    path("proposals/<int:pk>/delete", dashboard.proposal_delete, name="proposal_delete"),
    path(
        "proposals/<int:pk>/save-as-template",
        templates.template_from_proposal,
        name="proposal_save_as_template",
    ),
    path(
        "proposals/<int:pk>/versions/<int:number>/pdf",
        documents.proposal_version_pdf,
        name="proposal_version_pdf",
    ),
    path(
        "proposals/<int:pk>/accepted.pdf",
        documents.proposal_accepted_pdf,
        name="proposal_accepted_pdf",
    ),
    path("proposals/<int:pk>/preview", dashboard.proposal_preview, name="proposal_preview"),
    path(
        "proposals/<int:pk>/deliveries/<int:delivery_pk>/retry",
        dashboard.delivery_retry,
        name="delivery_retry",
    ),
    path("clients/", clients.client_list, name="client_list"),
    path("clients/search", proposal_list.client_search, name="client_search"),
    path("clients/new", clients.client_create, name="client_create"),
    path("clients/<int:pk>/edit", clients.client_edit, name="client_edit"),
    path("templates/", templates.template_list, name="template_list"),
    path("templates/new", templates.template_create, name="template_create"),
    path("templates/<int:pk>/edit", templates.template_edit, name="template_edit"),
    path("templates/<int:pk>/delete", templates.template_delete, name="template_delete"),
    path("settings/", settings.settings_edit, name="settings"),
    path("api-keys/", include("proposals.urls_api_keys")),
]
