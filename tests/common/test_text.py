import pytest

from common.text import one_line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Acme\r\nBcc: victim@example.com", "Acme Bcc: victim@example.com"),
        ("  Acme \t Studio  ", "Acme Studio"),
        ("Line\u2028separator\u0085next", "Line separator next"),
        ("zero\u200bwidth\x00nul\x1bescape", "zerowidthnulescape"),
        ("Café Zürich", "Café Zürich"),
        (None, ""),
    ],
)
def test_one_line_keeps_text_and_drops_what_breaks_a_header(raw, expected):
    assert one_line(raw) == expected


def test_one_line_cuts_to_the_length_without_a_trailing_space():
    assert one_line("ab cd", max_length=3) == "ab"
