"""The stand-in's request counters the client and contact tests read (``wix.count(TOKEN)``)."""

TOKEN = "POST /oauth2/token"
INSTANCE = "GET /apps/v1/instance"
CREATE = "POST /contacts/v4/contacts"
QUERY = "POST /contacts/v4/contacts/query"
