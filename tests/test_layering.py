"""Imports point downstream only: schemas <- adapters <- sync <- portal."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {
    "schemas": {"schemas"},
    "adapters": {"schemas", "adapters"},
    "sync": {"schemas", "adapters", "sync"},
    "portal": {"schemas", "adapters", "sync", "portal"},
}
PACKAGES = set(ALLOWED)


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_downstream(package):
    bad = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) - ALLOWED[package])
        for path in (ROOT / package).rglob("*.py")
        if imported_packages(path) - ALLOWED[package]
    }
    assert bad == {}


# Inside sync, rooms import downstream only: core (errors, log, faults, config) <- store
# <- ledger <- engine <- workers <- pulls (API pulls and webhooks), ledger <- access, and
# the cli composes them all.
ROOMS = {
    "core": {"core"},
    "store": {"core", "store"},
    "ledger": {"core", "store", "ledger"},
    "engine": {"core", "store", "ledger", "engine"},
    "pulls": {"core", "store", "ledger", "engine", "pulls"},
    "workers": {"core", "store", "ledger", "engine", "pulls", "workers"},
    "access": {"core", "store", "ledger", "access"},
    "cli": {"core", "store", "ledger", "engine", "pulls", "workers", "access", "cli"},
}
SYNC = ROOT / "sync"


def room_of_file(path: Path) -> str:
    parts = path.relative_to(SYNC).parts
    if len(parts) == 1:
        return "cli" if parts[0] == "__main__.py" else "core"
    return parts[0]


def room_of_module(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and (SYNC / parts[1]).is_dir():
        return parts[1]
    return "core"


def sync_rooms_imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            if node.module == "sync":
                modules = [f"sync.{a.name}" for a in node.names]
        else:
            continue
        found |= {room_of_module(m) for m in modules if m.split(".")[0] == "sync"}
    return found


def test_sync_rooms_import_only_downstream():
    assert set(ROOMS) - {"core"} == {
        p.name for p in SYNC.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    bad = {
        str(path.relative_to(ROOT)): sorted(
            sync_rooms_imported(path) - ROOMS[room_of_file(path)]
        )
        for path in SYNC.rglob("*.py")
        if "migrations" not in path.parts
        and sync_rooms_imported(path) - ROOMS[room_of_file(path)]
    }
    assert bad == {}


def test_the_portal_never_imports_the_command_line():
    bad = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "portal").rglob("*.py")
        if "cli" in sync_rooms_imported(path)
    )
    assert bad == []


def test_no_folder_over_15_modules_and_no_module_over_600_lines():
    """Within sync and the portal (adapters and schemas have their own issue items)."""
    folders = {
        str(folder.relative_to(ROOT)): len(list(folder.glob("*.py")))
        for package in ("sync", "portal")
        for folder in [ROOT / package, *(ROOT / package).rglob("*")]
        if folder.is_dir() and "versions" not in folder.parts
    }
    assert {f: n for f, n in folders.items() if n > 15} == {}
    long = {
        str(path.relative_to(ROOT)): n
        for package in ("sync", "portal")
        for path in (ROOT / package).rglob("*.py")
        if "versions" not in path.parts
        and (n := len(path.read_text().splitlines())) > 600
    }
    assert long == {}


# Where the portal's SQL lives: the scoped read model customers read through, and the
# admin's query modules. Every other portal module (views, auth, downloads, the app)
# asks those, and builds no SQL of its own.
PORTAL_QUERY_MODULES = {"portal/queries.py", "portal/scope.py"}
PORTAL_QUERY_PACKAGES = ("portal/admin/queries/",)
SQL_BUILDERS = {
    "select", "text", "insert", "update", "delete", "func", "and_", "or_", "not_",
    "exists", "literal", "literal_column", "case", "column", "table", "bindparam",
    "union", "union_all", "join", "outerjoin", "null", "true", "false", "desc", "asc",
    "cast", "tuple_", "distinct", "Table", "MetaData",
}  # fmt: skip
RUNS_SQL = {"execute", "exec_driver_sql", "scalar", "scalars", "exec"}


def sql_in(path: Path) -> list[str]:
    """What in *path* builds or runs SQL: names imported from sqlalchemy that build a
    statement, table constants imported from schemas.tables, calls of execute()."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module.startswith("sqlalchemy") and names & SQL_BUILDERS:
                found += [
                    f"imports {n} from {node.module}" for n in names & SQL_BUILDERS
                ]
            if node.module == "schemas.tables":
                found += [f"imports table {n}" for n in sorted(names) if n.isupper()]
        elif isinstance(node, ast.Import):
            found += [
                f"imports {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] == "sqlalchemy"
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in RUNS_SQL
        ):
            found.append(f"line {node.lineno}: calls .{node.func.attr}()")
    return found


def test_portal_views_build_no_sql():
    bad = {}
    for path in sorted((ROOT / "portal").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in PORTAL_QUERY_MODULES or name.startswith(PORTAL_QUERY_PACKAGES):
            continue
        if found := sql_in(path):
            bad[name] = found
    assert bad == {}


def test_the_sql_check_sees_a_view_that_builds_sql(tmp_path):
    view = tmp_path / "view.py"
    view.write_text(
        "from sqlalchemy import Connection, select\n"
        "from schemas.tables import INVOICES, utcnow\n"
        "def page(conn: Connection):\n"
        "    return conn.execute(select(INVOICES)).all()\n"
    )
    assert sql_in(view) == [
        "imports select from sqlalchemy",
        "imports table INVOICES",
        "line 4: calls .execute()",
    ]
