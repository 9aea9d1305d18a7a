"""Text that ends up in an email header (a display name, a subject): one line, no controls."""

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
