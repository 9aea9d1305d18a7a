"""Apps depend one way: accounts ← proposals ← integrations ← console, all on common; common on
no app (README, "Layout").

Every import in the apps' source (migrations and tests aside) is read with ``ast``: at module
level or inside a function, absolute or relative, and ``import_module("…")`` with a literal
name. An app may import only the layers below it; a new import against the grain fails here.
"""

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first: each may import only those before it.
LAYERS = ("common", "accounts", "proposals", "integrations", "console")


def _called_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def imports_of(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of every import in ``source``, the text of ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            name = "." * node.level + (node.module or "")
            yield node.lineno, importlib.util.resolve_name(name, package)
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def against_the_grain(source: str, module: str, *, is_package: bool = False) -> list[str]:
    """The imports of ``module`` (``source``) of an app above its own layer."""
    layer = LAYERS.index(module.partition(".")[0])
    return [
        f"{module}:{line} imports {name}"
        for line, name in imports_of(source, module, is_package=is_package)
        if name.partition(".")[0] in LAYERS[layer + 1 :]
    ]


def app_modules() -> Iterator[tuple[Path, str, bool]]:
    """(path, dotted name, is a package) of every module of the apps, migrations and tests aside."""
    for app in LAYERS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "migrations" in parts or "tests" in parts:
                continue
            is_package = parts[-1] == "__init__"
            yield path, ".".join(parts[:-1] if is_package else parts), is_package


def test_apps_import_only_the_layers_below_them():
    found = [
        violation
        for path, module, is_package in app_modules()
        for violation in against_the_grain(path.read_text(), module, is_package=is_package)
    ]
    assert found == []


def test_the_check_reads_every_app_and_sees_their_imports():
    modules = {module: path for path, module, _ in app_modules()}
    for module in ("common.health", "accounts.audit", "proposals.admin", "console.admin"):
        assert module in modules
    assert "proposals.migrations.0001_initial" not in modules
    # The grain itself is seen: console imports every app below it.
    seen = {
        name.partition(".")[0]
        for path, module, is_package in app_modules()
        if module.startswith("console.")
        for _, name in imports_of(path.read_text(), module, is_package=is_package)
    }
    assert set(LAYERS) <= seen


@pytest.mark.parametrize(
    "module, source",
    [
        ("common.health", "from proposals.delivery.selectors import delivery_queue_stats\n"),
        ("common.metrics", "def collect():\n    from integrations.models import WebhookReceipt\n"),
        ("common.admin_tools", "import os, console.links\n"),
        ("common.outbox", "import accounts.models as accounts\n"),
        ("accounts.services", "from proposals import services\n"),
        ("accounts.models", "class A:\n    def f(self):\n        import integrations\n"),
        ("accounts.roles", "from console.links import business_support_url\n"),
        ("proposals.admin", "if True:\n    from console.links import business_support_url\n"),
        ("proposals.delivery.tasks", "from integrations.contacts import contact_sync\n"),
        (
            "proposals.views.public",
            "from importlib import import_module\nimport_module('integrations.sso')\n",
        ),
        ("integrations.views", "from console import views\n"),
        ("integrations.wix.client", "def f():\n    return __import__('console.selectors')\n"),
    ],
)
def test_an_import_against_the_grain_is_found(module, source):
    [violation] = against_the_grain(source, module, is_package=module == "common.outbox")
    assert violation.startswith(f"{module}:")


@pytest.mark.parametrize(
    "module, source",
    [
        ("common.metrics", "from .health import queue_stats\nimport prometheus_client\n"),
        ("common.outbox", "from . import drain\nfrom .kinds import Kind\n"),
        ("accounts.audit", "from accounts.models import User\nfrom common.request_id import x\n"),
        ("proposals.delivery.admin", "from ..models import Delivery\nfrom accounts import audit\n"),
        ("integrations.lifecycle", "from proposals.models import Proposal\nimport common.text\n"),
        (
            "console.admin",
            "from proposals.admin import ProposalAdmin\nimport integrations\n",
        ),
        ("proposals.support", "import importlib\nimportlib.import_module(name)\n"),
    ],
)
def test_an_import_with_the_grain_is_allowed(module, source):
    assert against_the_grain(source, module, is_package=module == "common.outbox") == []
