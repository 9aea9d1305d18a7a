"""The stand-in's request counters the client tests read (``wix.count(TOKEN)``)."""

TOKEN = "POST /oauth2/token"
INSTANCE = "GET /apps/v1/instance"
