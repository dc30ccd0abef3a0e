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
# <- ledger <- engine <- workers, ledger <- access, and the cli composes them all.
ROOMS = {
    "core": {"core"},
    "store": {"core", "store"},
    "ledger": {"core", "store", "ledger"},
    "engine": {"core", "store", "ledger", "engine"},
    "workers": {"core", "store", "ledger", "engine", "workers"},
    "access": {"core", "store", "ledger", "access"},
    "cli": {"core", "store", "ledger", "engine", "workers", "access", "cli"},
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
