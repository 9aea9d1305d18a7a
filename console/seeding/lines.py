# SQL is assembled from this module's constants only (no input reaches it); the generated
# expressions read better unbroken.
# ruff: noqa: S608, E501
"""The working copy's three line items as SQL: names, quantities, prices and the totals
common.money computes from them, all functions of the proposal id."""

from console.seeding.schema import SCHEMA

ITEM_NAMES = (
    ["Discovery workshop", "Strategy session", "Site audit", "Kick-off meeting",
     "Requirements review"],
    ["Design and build", "Monthly retainer", "Content writing", "Photo shoot", "Implementation",
     "Consulting hours"],
    ["Priority support", "Extra revisions", "Training session", "Hosting (1 year)",
     "Express delivery"],
)  # fmt: skip
ITEM_DESCRIPTION = "As agreed in our call: scope, milestones and delivery."


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def lines_lateral(pid: str, m: str) -> str:
    """``ln``: the three lines of proposal ``pid`` (1, 2 in "Services"; 3, maybe optional, in
    "Options") and their totals as common.money computes them, with ``m`` minor units.

    Values are functions of the proposal id, so the line items, the proposal's total and its
    snapshots agree without reading each other. Each level is fenced (OFFSET 0) so an
    expression is computed once per row, not copied into every use.
    """
    raw = ",\n".join(
        f"(1 + floor({SCHEMA}.u({pid}, {10 + j}) * 4))::numeric(12, 3) AS q{j}, "
        f"((4 + floor({SCHEMA}.u({pid}, {20 + j}) * 60)) * 25)::numeric(14, 4) AS pr{j}, "
        f"(CASE WHEN {SCHEMA}.u({pid}, {30 + j}) < 0.15 THEN 10 ELSE 0 END)::numeric(5, 2) AS d{j}, "
        f"{SCHEMA}.pick({_array(ITEM_NAMES[j - 1])}, {pid}, {60 + j}) AS name{j}"
        for j in (1, 2, 3)
    )
    net = ", ".join(
        f"round(l1.q{j} * l1.pr{j}, {m}) - round(l1.q{j} * l1.pr{j} * l1.d{j} / 100, {m}) AS net{j}, "
        f"round(l1.q{j} * l1.pr{j} * l1.d{j} / 100, {m}) AS dc{j}"
        for j in (1, 2, 3)
    )
    tax = ", ".join(f"round(l2.net{j} * l2.tax / 100, {m}) AS tx{j}" for j in (1, 2, 3))
    return f"""
CROSS JOIN LATERAL (
    SELECT l3.*,
           l3.net1 + l3.net2 + l3.in3 * l3.net3 AS sum_net,
           l3.dc1 + l3.dc2 + l3.in3 * l3.dc3 AS sum_discount,
           l3.tx1 + l3.tx2 + l3.in3 * l3.tx3 AS sum_tax,
           l3.net1 + l3.net2 + l3.in3 * l3.net3 + l3.tx1 + l3.tx2 + l3.in3 * l3.tx3 AS total
    FROM (
        SELECT l2.*, {tax}
        FROM (
            SELECT l1.*, {net}
            FROM (
                SELECT {raw},
                       ((ARRAY[0, 0, 5, 10, 20])[1 + floor({SCHEMA}.u({pid}, 40) * 5)::int])::numeric(5, 2) AS tax,
                       {SCHEMA}.u({pid}, 50) < 0.5 AS opt3,
                       NOT ({SCHEMA}.u({pid}, 50) < 0.5) OR {SCHEMA}.u({pid}, 51) < 0.5 AS sel3,
                       CASE WHEN NOT ({SCHEMA}.u({pid}, 50) < 0.5) OR {SCHEMA}.u({pid}, 51) < 0.5
                            THEN 1 ELSE 0 END AS in3
                OFFSET 0
            ) l1
            OFFSET 0
        ) l2
        OFFSET 0
    ) l3
    OFFSET 0
) ln"""


def item_json(pid: str, j: int) -> str:
    """One snapshot item from ``ln``, in the shape of proposals.selectors.item_dict."""
    optional = "ln.opt3" if j == 3 else "false"
    selected = "ln.sel3" if j == 3 else "true"
    description = f"'{ITEM_DESCRIPTION}'" if j == 2 else "''"
    return (
        f"jsonb_build_object('key', (3 * {pid} - {3 - j})::text, 'name', ln.name{j}, "
        f"'description', {description}, 'quantity', ln.q{j}::text, "
        f"'unit_price', ln.pr{j}::text, 'discount_percent', ln.d{j}::text, "
        f"'tax_rate', ln.tax::text, 'optional', {optional}, 'selected', {selected}, "
        "'source', '')"
    )
