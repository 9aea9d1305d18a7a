"""Reads for proposals shared by the dashboard, the client page, the API and the admin.

Every function takes the business it reads for; a foreign id answers 404. One module per
subject (lists, content, detail, clients, business, usage, public); import from here:
``from proposals import selectors; selectors.proposal_get(...)``. Selectors never import
services.
"""

from proposals.selectors.business import (
    owner_email_for,
    proposal_counts,
    proposal_settings_for,
    template_get,
    template_list,
)
from proposals.selectors.clients import client_get, client_list, client_search
from proposals.selectors.content import (
    AcceptedContent,
    accepted_content,
    item_dict,
    proposal_content,
    proposal_content_data,
    proposal_content_rows,
    proposal_sections,
    proposal_snapshot,
    proposal_totals,
    snapshot_items,
    working_copy_sections,
)
from proposals.selectors.detail import (
    acceptance_for,
    proposal_acceptance,
    proposal_deliveries,
    proposal_detail_context,
    proposal_timeline,
    proposal_version_get,
    proposal_versions,
)
from proposals.selectors.lists import (
    API_PROPOSAL_DETAIL_VALUES,
    API_PROPOSAL_VALUES,
    api_proposal_list,
    api_proposal_row,
    dashboard_proposal_list,
    proposal_get,
    proposal_list,
)
from proposals.selectors.public import (
    newer_version_for,
    public_page_state,
    version_by_token,
    version_totals,
)
from proposals.selectors.usage import (
    Pipeline,
    SendAllowance,
    pipeline,
    send_allowance,
    send_limit_for,
    send_usage,
    sends_this_month,
)

__all__ = [
    "API_PROPOSAL_DETAIL_VALUES",
    "API_PROPOSAL_VALUES",
    "AcceptedContent",
    "Pipeline",
    "SendAllowance",
    "accepted_content",
    "acceptance_for",
    "api_proposal_list",
    "api_proposal_row",
    "client_get",
    "client_list",
    "client_search",
    "dashboard_proposal_list",
    "item_dict",
    "newer_version_for",
    "owner_email_for",
    "proposal_counts",
    "pipeline",
    "proposal_acceptance",
    "proposal_content",
    "proposal_content_data",
    "proposal_content_rows",
    "proposal_deliveries",
    "proposal_detail_context",
    "proposal_get",
    "proposal_list",
    "proposal_sections",
    "proposal_settings_for",
    "proposal_snapshot",
    "proposal_timeline",
    "proposal_totals",
    "proposal_version_get",
    "proposal_versions",
    "public_page_state",
    "send_allowance",
    "send_limit_for",
    "send_usage",
    "sends_this_month",
    "snapshot_items",
    "template_get",
    "template_list",
    "version_by_token",
    "version_totals",
    "working_copy_sections",
]
