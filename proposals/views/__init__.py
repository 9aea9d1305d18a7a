"""Server-rendered pages: the dashboard (``/app/``) and the client's page (``/p/<token>``)."""
