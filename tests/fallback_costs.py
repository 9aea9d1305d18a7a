"""Queries that SQLite's fallbacks cost where PostgreSQL has a single statement.

Query-count tests assert PostgreSQL's bound unchanged and, on SQLite (development, ``make
test`` on a fresh machine), the same bound plus exactly these per-row costs:

- a claim: PostgreSQL takes a batch in one ``UPDATE … FROM (SELECT … FOR UPDATE SKIP
  LOCKED)``; the fallback claims each row with a conditional UPDATE (common/outbox/claim.py).
- an email's attempt: PostgreSQL starts it (the delivery's Message-ID and the attempt row) in
  one statement; the fallback writes an UPDATE and an INSERT in a transaction, a savepoint
  pair inside the test's (proposals/delivery/sending.py).

Anything else that grows with the rows fails on both databases.
"""

from django.db import connection

POSTGRESQL = connection.vendor == "postgresql"
CLAIM_PER_ROW = 0 if POSTGRESQL else 1
ATTEMPT_START_PER_EMAIL = 0 if POSTGRESQL else 3
