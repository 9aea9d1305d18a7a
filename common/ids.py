"""Row ids: every primary key is a PostgreSQL bigint, so no id beyond ``MAX_ID`` can exist.

Doors (forms, API parameters, cursors, session values) refuse a larger number as bad input
before it reaches a query, where it would overflow the column's type and fail as a 5xx.
"""

MAX_ID = 2**63 - 1
MIN_BIGINT = -(2**63)
