"""Text that ends up in an email header (a display name, a subject): one line, no controls."""

import re
import unicodedata


def one_line(value: object, *, max_length: int | None = None) -> str:
    """``value`` as header-safe text: every run of whitespace or line break (CR, LF, U+2028,
    U+0085 …) becomes one space, other control and format characters go, ends are trimmed.

    A brand name typed with a line break used to make every email of its business fail as an
    "invalid address"; fields that reach a header are cleaned when saved and again when used.
    """
    text = "" if value is None else str(value)
    kept = []
    for char in text:
        if char.isspace():
            kept.append(" ")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            kept.append(char)
    cleaned = " ".join("".join(kept).split())
    if max_length is not None:
        cleaned = cleaned[:max_length].rstrip()
    return cleaned


# Line breaks (CR, LF, VT, FF, the separators U+001C–U+001E, NEL, U+2028, U+2029) and the other
# C0/C1 controls, tab included.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def without_line_breaks(value: object) -> str:
    """``value`` on one line, as saved: each run of line breaks or controls becomes one space,
    ends are trimmed; everything else is kept as typed (a ZWJ emoji, a bidi mark), unlike
    ``one_line``, which builds the header itself and also drops format characters."""
    text = "" if value is None else str(value)
    return _BREAKS.sub(" ", text).strip()
