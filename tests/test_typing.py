"""CI type-checks the product code, and the code gives the checker honest types."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import tests.__main__ as ci

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("schemas", "adapters", "sync", "portal")


def product_files():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "versions" not in path.parts:
                yield path


def test_ci_runs_mypy_after_ruff_and_before_the_tests(monkeypatch):
    """Nothing is run for real: every step and pass only says its title."""
    ran: list[str] = []
    monkeypatch.setattr(
        ci, "step", lambda title, cmd, env=None, ok=(0,): ran.append(title)
    )
    monkeypatch.setattr(
        ci,
        "parallel_passes",
        lambda runs: ran.append(" + ".join(t for t, _, _ in runs)),
    )
    monkeypatch.setattr(ci, "ensure_chromium", lambda: None)
    monkeypatch.setattr(ci, "ensure_postgres", lambda: None)
    ci.main(["--sqlite-only"])
    assert ran == [
        "ruff check",
        "ruff format",
        "mypy",
        "pytest on SQLite",
        "pytest on SQLite, tests that run alone",
    ]
    ran.clear()
    ci.main([])
    assert ran == [
        "ruff check",
        "ruff format",
        "mypy",
        "pytest on SQLite + pytest on PostgreSQL",
        "pytest on SQLite, tests that run alone",
        "pytest on PostgreSQL, tests that run alone",
    ]


def test_mypy_checks_the_product_code_and_refuses_dead_ignores():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mypy = config["tool"]["mypy"]
    assert set(mypy["files"]) == set(PRODUCT)
    assert mypy["check_untyped_defs"] is True
    assert mypy["warn_unused_ignores"] is True
    assert "ignore-without-code" in mypy["enable_error_code"]
    test_extra = config["project"]["optional-dependencies"]["test"]
    assert any(req.startswith("mypy") for req in test_extra)


def test_every_type_ignore_names_its_error_and_says_why():
    pattern = re.compile(r"#\s*type:\s*ignore(?P<code>\[[\w,-]+\])?(?P<rest>.*)$")
    bad = []
    for path in product_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            found = pattern.search(line)
            if found and not (
                found["code"] and re.match(r"\s+#\s*\w.{8,}", found["rest"])
            ):
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert bad == []


@pytest.mark.parametrize("package", PRODUCT)
def test_queries_reach_tables_through_the_typed_constants(package):
    """``schemas.tables`` exports each table once as a ``sqlalchemy.Table``; nothing
    reaches for ``Model.__table__``, which SQLModel does not declare to a checker."""
    bad = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in product_files()
        if path.relative_to(ROOT).parts[0] == package
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if ".__table__" in line and "never ``Model.__table__``" not in line
    ]
    assert bad == []


def test_every_table_has_one_typed_constant():
    from sqlalchemy import Table
    from sqlmodel import SQLModel

    import schemas.tables as tables

    constants = {
        value.name: name
        for name, value in vars(tables).items()
        if name.isupper() and isinstance(value, Table)
    }
    assert set(constants) == set(SQLModel.metadata.tables)
    assert tables.INVOICES is tables.Invoice.__table__  # type: ignore[attr-defined]
