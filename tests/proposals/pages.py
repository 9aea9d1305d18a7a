"""Reading dashboard pages in tests: the HTML, a field's tag, the pipeline's query."""

import re


def html(response) -> str:
    return response.content.decode()


def is_pipeline_read(sql: str) -> bool:
    """The list's pipeline totals: counts over the open and this month's accepted proposals
    only, from their own partial indexes (tests/proposals/test_views_list_pipeline.py)."""
    return "UNION ALL" in sql and "'accepted'" in sql and "'viewed'" in sql


def tag_with_id(page: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bid="{element_id}"[^>]*>', page)
    assert match, f"no field with id {element_id}"
    return match.group(0)
