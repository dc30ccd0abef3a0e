"""FILE-09: the data directory (ledger, originals, documents, secret key) is readable by
billfold's own user only: folders 0700, files 0600, whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from portal.security import secret_key
from sync.cli import main
from sync.store import Store
from sync.store.blobs import put_document
from sync.store.migrate import upgrade
from tests.helpers import SAMPLE_LEDGER


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask of a login shell: files 0644 and folders 0755 unless asked."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_file09_the_sqlite_store_and_its_wal_and_shm_are_0600_in_a_0700_folder(
    tmp_path, open_umask
):
    path = tmp_path / "fresh" / "nested" / "billfold.db"
    store = Store(f"sqlite:///{path}")
    try:
        upgrade(store)
        with store.engine.connect() as conn:  # an open connection keeps -wal and -shm
            conn.exec_driver_sql("SELECT count(*) FROM invoice").scalar()
            files = [path, path.with_name("billfold.db-wal"), path.with_name("billfold.db-shm")]  # fmt: skip
            assert all(f.exists() for f in files)
            assert {f.name: oct(mode(f)) for f in files} == {
                f.name: "0o600" for f in files
            }
    finally:
        store.dispose()
    assert oct(mode(path.parent)) == "0o700"
    assert oct(mode(path.parent.parent)) == "0o700"


def test_file09_a_world_readable_store_of_an_older_release_is_tightened(
    tmp_path, open_umask
):
    path = tmp_path / "billfold.db"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    Store(f"sqlite:///{path}").dispose()
    assert oct(mode(path)) == "0o600"


def test_file09_originals_documents_and_the_secret_key_are_private(
    settings, tmp_path, open_umask
):
    data = tmp_path / "new-data-dir"
    settings = replace(settings, data_dir=data, secret_key="")
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{data}"\ndatabase_url = "sqlite:///{data / "billfold.db"}"\n'
    )
    result = CliRunner().invoke(
        main, ["--config", str(config), "import", str(SAMPLE_LEDGER)]
    )
    assert result.exit_code == 0, result.output
    put_document(settings, b"%PDF-1.4\n% a job sheet\n%%EOF\n")
    secret_key(settings)
    folders = [p for p in [data, *data.rglob("*")] if p.is_dir()]
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {"originals", "documents"} <= {p.name for p in folders}
    assert {"billfold.db", "secret_key"} <= {p.name for p in files}
    assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}
