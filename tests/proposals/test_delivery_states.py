"""Each set of delivery states ("waiting", "failed", "retryable", …) is defined once, on the
model (``Delivery.WAITING_STATES`` and its siblings); no other module spells one out."""

import ast
import re
from pathlib import Path

from proposals.delivery.kind import DELIVERY
from proposals.models import Delivery

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "common", "console", "integrations", "proposals")
HOME = Path("proposals/models/deliveries.py")
# Values only a delivery has (other models have a "pending" or a "sent" too).
_DELIVERY_ONLY = {Delivery.State.FAILED_RETRYING, Delivery.State.FAILED_PERMANENT}
# A changelist link or query string naming delivery states by value.
_TEMPLATE_STATES = re.compile(r"state__in=[a-z_,]*failed_(retrying|permanent)")


def _is_state(node: ast.expr) -> bool:
    """``Delivery.State.X``, ``State.X`` or ``DeliveryState.X``."""
    if not (isinstance(node, ast.Attribute) and node.attr in Delivery.State.names):
        return False
    owner = node.value
    if isinstance(owner, ast.Attribute):
        return owner.attr == "State"
    return isinstance(owner, ast.Name) and owner.id in ("State", "DeliveryState")


def _spells_a_set(node: ast.AST) -> bool:
    if not isinstance(node, ast.Tuple | ast.List | ast.Set):
        return False
    if sum(_is_state(element) for element in node.elts) >= 2:
        return True
    values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
    return (
        len(values) >= 2
        and len(values) == len(node.elts)
        and set(values) <= set(Delivery.State.values)
        and bool(set(values) & _DELIVERY_ONLY)
    )


def _sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" not in relative.parts and relative != HOME:
                yield relative, path


def test_no_module_outside_the_model_spells_out_a_set_of_delivery_states():
    found = []
    for relative, path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if _spells_a_set(node):
                found.append(f"{relative}:{node.lineno}")
    assert found == [], "use the sets on Delivery (WAITING_STATES, FAILED_STATES, …)"


def test_no_template_spells_out_a_set_of_delivery_states():
    found = [
        str(path.relative_to(ROOT))
        for folder in ("templates", *APPS)
        for path in sorted((ROOT / folder).rglob("*.html"))
        if _TEMPLATE_STATES.search(path.read_text())
    ]
    assert found == []


def test_the_drain_the_due_index_and_the_model_agree_on_what_waits():
    [due] = [index for index in Delivery._meta.indexes if index.name == "delivery_due_idx"]
    assert dict(due.condition.children)["state__in"] == list(Delivery.WAITING_STATES)
    assert DELIVERY.due_states == Delivery.WAITING_STATES
    assert set(Delivery.OPEN_STATES) == {*Delivery.WAITING_STATES, Delivery.State.SENDING}
    # Every state is either final or still moving; retry covers all but sent and cancelled.
    assert set(Delivery.FINAL_STATES) | set(Delivery.OPEN_STATES) == set(Delivery.State)
    assert set(Delivery.State) - set(Delivery.RETRYABLE_STATES) == {
        Delivery.State.SENT,
        Delivery.State.CANCELLED,
    }
