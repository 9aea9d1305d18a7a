"""Modules stay small enough to read in one sitting (STYLE.md): no Python module outside the
migrations passes ``MAX_LINES``; one that grows past it is split into a package by area."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400
# Where the project's Python lives (the virtualenv and git's own files are not ours).
TOP = ("config", "common", "accounts", "proposals", "integrations", "console", "tests", "scripts")


def project_modules() -> list[Path]:
    found = [ROOT / "manage.py"]
    for top in TOP:
        found += [
            path
            for path in sorted((ROOT / top).rglob("*.py"))
            if "migrations" not in path.relative_to(ROOT).parts
        ]
    return found


def lines_of(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_no_module_outside_the_migrations_passes_the_limit():
    too_long = {
        str(path.relative_to(ROOT)): lines_of(path)
        for path in project_modules()
        if lines_of(path) > MAX_LINES
    }
    assert too_long == {}


def test_the_walk_reads_the_apps_the_tests_and_the_scripts_but_no_migration():
    modules = {str(path.relative_to(ROOT)) for path in project_modules()}
    for module in ("manage.py", "proposals/rules.py", "tests/test_layering.py", "config/env.py"):
        assert module in modules
    assert any(module.startswith("scripts/") for module in modules)
    assert not any("/migrations/" in module for module in modules)
