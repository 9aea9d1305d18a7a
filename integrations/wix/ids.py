"""What a Wix identifier we store may look like: one rule for webhooks and dashboard SSO.

Wix's instance, user and site ids are GUIDs; the stand-in and tests use readable slugs. Both
fit this pattern; a control character (a NUL that PostgreSQL text cannot hold), whitespace or
an unbounded length never does, so a validly signed but impossible value is refused as input
rather than failing the database write.
"""

import re
from typing import TypeGuard

MAX_ID_LENGTH = 64
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def is_wix_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _ID.fullmatch(value) is not None
