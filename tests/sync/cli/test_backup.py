"""``billfold backup DEST`` and ``billfold restore SRC``: a store restored elsewhere (a
new data directory, a new database, another bucket prefix) has the same balances,
documents and originals, byte for byte, and its portal takes the sessions, cookies and
form tokens of before. Restore refuses a store that is not empty, and a damaged backup.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from portal import create_app
from schemas.tables import DOCUMENTS, IMPORT_BATCHES
from sync.cli import main
from sync.config import Settings, StorageSettings
from sync.ledger.balances import balances
from sync.store import Store
from sync.store.blobs import read_blob, read_original
from tests.databases import fresh_database, on_postgres, schema_url
from tests.helpers import (
    SAMPLE_LEDGER,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)
from tests.portal.conftest import csrf_from, seed, sign_in
from tests.workers import wait_until


@dataclass
class Node:
    """One installation: its settings and the config file its commands read."""

    settings: Settings
    config: Path

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(self.config), *args])
        return result.exit_code, result.output


def _node(path: Path, settings: Settings) -> Node:
    lines = [
        f"data_dir = {json.dumps(str(settings.data_dir))}",
        f"database_url = {json.dumps(settings.database_url)}",
    ]
    storage = settings.storage
    if storage.backend == "s3":
        lines += ["[storage]"] + [
            f"{k} = {json.dumps(getattr(storage, k))}"
            for k in ("backend", "bucket", "prefix", "endpoint_url", "region")
        ]
    path.write_text("\n".join(lines) + "\n")
    return Node(replace(settings, config_path=path), path)


def _storage(kind: str, request: pytest.FixtureRequest, prefix: str) -> StorageSettings:
    if kind == "local":
        return StorageSettings()
    bucket = request.getfixturevalue("bucket")
    return StorageSettings(
        backend="s3", bucket=bucket.name, prefix=prefix,
        endpoint_url=bucket.endpoint, region="us-east-1",
    )  # fmt: skip


def _schema(store: Store) -> str:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT current_schema()").scalar_one()


def _target_url(source: Store, url: str) -> str:
    """A new database; on PostgreSQL with the source's schema name (pg_restore keeps
    schema names)."""
    return schema_url(url, _schema(source)) if on_postgres() else url


def _ledger(store: Store, settings: Settings) -> dict:
    """What a restore must bring back: balances, documents' and originals' bytes."""
    docs = DOCUMENTS
    batches = IMPORT_BATCHES
    with store.read() as conn:
        figures = balances(conn)
        documents = conn.execute(
            select(docs.c.file_name, docs.c.storage_key).order_by(docs.c.id)
        ).all()
        originals = conn.execute(
            select(batches.c.file_name, batches.c.stored_path).order_by(batches.c.id)
        ).all()
    return {
        "balances": figures,
        "documents": [(n, read_blob(settings, k)) for n, k in documents],
        "originals": [(n, read_original(settings, p)) for n, p in originals if p],
        "keys": [k for _, k in documents] + [p for _, p in originals if p],
    }


@pytest.mark.parametrize(
    ("storage", "target_state"),
    [("local", "new"), pytest.param("s3", "migrated", marks=pytest.mark.slow)],
)
def test_a_backup_restored_elsewhere_is_the_same_store(
    settings, store, tmp_path, request, storage, target_state
):
    source = _node(
        tmp_path / "source.toml",
        replace(
            settings, secret_key="", data_dir=tmp_path / "source-data",
            storage=_storage(storage, request, "billfold/docs"),
        ),
    )  # fmt: skip
    seed(store, source.settings, tmp_path)
    run_import(store, source.settings, SAMPLE_LEDGER, source="ledger")
    app = create_app(source.settings, store=store)
    browser = app.test_client()
    sign_in(app, browser, "a_parent")
    token = csrf_from(browser.get("/").get_data(as_text=True))
    visitor = app.test_client()  # not signed in: its token rides Flask's signed cookie
    visitor_token = csrf_from(visitor.get("/sign-in").get_data(as_text=True))
    before = _ledger(store, source.settings)
    assert len(before["documents"]) == 3 and len(before["originals"]) == 2

    backup = tmp_path / "backup"
    code, out = source.run("backup", str(backup))
    assert code == 0, out
    assert "backup complete" in out and (backup / "manifest.json").is_file()

    with fresh_database(tmp_path / "target-db") as url:
        target = _node(
            tmp_path / "target.toml",
            replace(
                settings, secret_key="", data_dir=tmp_path / "target-data",
                database_url=_target_url(store, url),
                storage=_storage(storage, request, "restored"),
            ),
        )  # fmt: skip
        if target_state == "migrated":  # a new node, set up, then restored into
            if on_postgres():
                server = Store(url)
                with server.engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{_schema(store)}"')
                server.dispose()
            assert target.run("db", "upgrade")[0] == 0
        code, out = target.run("restore", str(backup))
        assert code == 0, out
        assert "restore complete" in out and "secret key: restored" in out
        restored = Store(target.settings.resolved_database_url)
        try:
            after = _ledger(restored, target.settings)
            assert after["balances"] == before["balances"]
            assert after["documents"] == before["documents"]
            assert after["originals"] == before["originals"]
            # Nothing still points at the source's data directory or bucket prefix.
            assert not [
                k for k in after["keys"] if "source-data" in k or "billfold/docs" in k
            ]

            restored_app = create_app(target.settings, store=restored)
            portal = restored_app.test_client()
            portal.set_cookie(
                "billfold_session", browser.get_cookie("billfold_session").value
            )
            assert portal.get("/").status_code == 200  # the session is still signed in
            # Form tokens of before the backup are accepted: the secret key is back.
            assert (
                portal.post("/sign-out", data={"csrf_token": token}).status_code == 302
            )
            assert portal.get("/").headers["Location"] == "/sign-in"
            stranger = restored_app.test_client()
            stranger.set_cookie(
                "billfold_csrf", visitor.get_cookie("billfold_csrf").value
            )
            asked = stranger.post(
                "/sign-in", data={"csrf_token": visitor_token, "email": "x@example.com"}
            )
            assert asked.status_code == 200, asked.get_data(as_text=True)
            restored_app.extensions["billfold"].mailer.flush()

            again = target.run("restore", str(backup))
            assert again[0] == 1
            assert "the store is not empty (rows in " in again[1]
            assert _ledger(restored, target.settings)["balances"] == before["balances"]
        finally:
            restored.dispose()


def test_restore_refuses_an_unfinished_or_damaged_backup(settings, store, tmp_path):
    source = _node(
        tmp_path / "source.toml", replace(settings, data_dir=tmp_path / "source-data")
    )
    seed(store, source.settings, tmp_path)
    backup = tmp_path / "backup"
    assert source.run("backup", str(backup))[0] == 0
    code, out = source.run("backup", str(backup))
    assert code == 1 and "is not an empty folder" in out

    with fresh_database(tmp_path / "target-db") as url:
        target = _node(
            tmp_path / "target.toml",
            replace(
                settings, data_dir=tmp_path / "target-data",
                database_url=_target_url(store, url),
            ),
        )  # fmt: skip
        unfinished = tmp_path / "unfinished"
        unfinished.mkdir()
        code, out = target.run("restore", str(unfinished))
        assert code == 1 and "not a finished billfold backup" in out

        document = next(
            p for p in (backup / "files" / "documents").rglob("*") if p.is_file()
        )
        damaged = bytearray(document.read_bytes())
        damaged[-3] ^= 0xFF
        document.write_bytes(bytes(damaged))
        code, out = target.run("restore", str(backup))
        assert code == 1 and "is damaged" in out
        assert not (tmp_path / "target-data" / "secret_key").exists()


@pytest.mark.sqlite_only
def test_an_sqlite_backup_is_one_consistent_state_while_an_import_runs(
    settings, store, tmp_path, monkeypatch
):
    """The online backup copies the store as it was before an import that is still
    under way (its write transaction open), never half of it."""
    node = _node(tmp_path / "c.toml", replace(settings, data_dir=tmp_path / "data"))
    run_import(store, node.settings, SAMPLE_LEDGER, source="first")
    from sync import faults

    # The import pauses at its commit point until the backup is done, however long
    # the backup takes on a busy machine.
    paused, resume = threading.Event(), threading.Event()
    real_hit = faults.hit

    def hit(point: str) -> None:
        if point == "before_commit":
            paused.set()
            resume.wait(120)
        real_hit(point)

    monkeypatch.setattr(faults, "hit", hit)
    rows = [invoice_row(f"S-{i}", f"Second {i}", "10.00") for i in range(50)]
    export = write_csv(tmp_path / "second.csv", header_without_lines(), rows)
    importing = threading.Thread(
        target=run_import,
        args=(store, node.settings, export),
        kwargs={"source": "second"},
    )
    importing.start()
    try:
        wait_until(paused.is_set, 60, "the import's commit")
        code, out = node.run("backup", str(tmp_path / "backup"))
        assert code == 0, out
        assert importing.is_alive()  # the backup did not wait for the import
    finally:
        resume.set()
        importing.join(120)
    with store.read() as conn:  # the import went on and committed after the backup
        batches = IMPORT_BATCHES
        done = conn.execute(select(batches.c.source, batches.c.status)).all()
        assert sorted(done) == [("first", "applied"), ("second", "applied")]
    copy = sqlite3.connect(tmp_path / "backup" / "billfold.db")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sources = copy.execute("SELECT DISTINCT source FROM import_batch").fetchall()
        assert sources == [("first",)]
        accounts = copy.execute("SELECT DISTINCT source FROM account").fetchall()
        assert accounts == [("first",)]
    finally:
        copy.close()


@pytest.mark.postgres_only
def test_a_postgresql_backup_without_pg_dump_says_how_to_get_it(
    settings, store, tmp_path
):
    node = _node(tmp_path / "c.toml", replace(settings, data_dir=tmp_path / "data"))
    result = CliRunner().invoke(
        main,
        ["--config", str(node.config), "backup", str(tmp_path / "backup")],
        env={"PATH": str(tmp_path / "no-programs-here")},
    )
    assert result.exit_code == 1
    assert "pg_dump is not installed" in result.output
    assert "apt-get install postgresql-client" in result.output
