"""PDFs of what a client was sent and of what they signed (issue 15 point 5).

``render`` turns a frozen version (and its acceptance) into PDF bytes with WeasyPrint, from
the same templates and style sheets as the client's page, with no network: ``fetch`` serves
only the project's static files and the business's stored logo. The bytes are stored once
with their SHA-256 (``services.documents``), so every download is the same file.
"""
