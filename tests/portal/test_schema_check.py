"""Web workers never migrate: they check the schema at start and refuse, in one line,
one that is behind. README's at-scale recipe (``gunicorn -w 4 'portal.wsgi:app'``) on a
new database stops at once with that line instead of crashing worker after worker;
after ``billfold db upgrade`` all four workers serve.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner

from portal import create_app
from sync.cli import main
from sync.store import Store
from sync.store.migrate import (
    SchemaNotCurrent,
    alembic_config,
    current_revision,
    head_revision,
)
from tests.databases import fresh_schema, on_postgres
from tests.workers import free_port, wait_until, worker_env

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).parent / "gunicorn")


def _line(at: str) -> str:
    return (
        f"the database schema is at {at}, billfold needs {head_revision()}: "
        "run `billfold db upgrade`"
    )


def test_a_web_worker_refuses_an_empty_database_and_leaves_it_empty(settings, tmp_path):
    with fresh_schema(tmp_path / "fresh") as url:
        fresh = replace(settings, database_url=url)
        with pytest.raises(SchemaNotCurrent) as refused:
            create_app(fresh)
        assert str(refused.value) == _line("none (an empty database)")
        store = Store(url)
        assert current_revision(store) is None  # nothing was migrated
        store.dispose()


def test_a_web_worker_refuses_a_schema_one_release_behind(settings, tmp_path):
    with fresh_schema(tmp_path / "old") as url:
        store = Store(url)
        config = alembic_config(store)
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0007_account_names_to_confirm")
        with pytest.raises(SchemaNotCurrent) as refused:
            create_app(replace(settings, database_url=url), store=store)
        assert str(refused.value) == _line("0007_account_names_to_confirm")
        assert current_revision(store) == "0007_account_names_to_confirm"
        store.dispose()


def test_the_embedded_store_migrates_itself_and_a_shared_one_waits_for_db_upgrade(
    tmp_path,
):
    """CLI commands migrate SQLite on first use; PostgreSQL only by `db upgrade`."""
    with fresh_schema(tmp_path / "cli") as url:
        env = {"BILLFOLD_DATABASE_URL": url, "BILLFOLD_DATA_DIR": str(tmp_path / "d")}
        runner = CliRunner()
        first = runner.invoke(main, ["balances", "--json"], env=env)
        if on_postgres():
            assert first.exit_code == 1
            assert first.output.strip() == "error: " + _line("none (an empty database)")
            upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
            assert upgraded.exit_code == 0, upgraded.output
            first = runner.invoke(main, ["balances", "--json"], env=env)
        assert first.exit_code == 0, first.output
        assert first.output.strip() == "[]"


# -- the README recipe: gunicorn -w 4 'portal.wsgi:app' --------------------------------------


def _gunicorn(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [GUNICORN, "-w", "4", "-b", f"127.0.0.1:{port}", "portal.wsgi:app"],
            cwd=ROOT, env=env, stdout=out, stderr=out,
        )  # fmt: skip


@pytest.mark.slow
def test_gunicorn_on_a_new_database_stops_with_one_line_then_serves_after_db_upgrade(
    tmp_path,
):
    with fresh_schema(tmp_path / "scale") as url:
        config = tmp_path / "config.toml"
        config.write_text(
            f'database_url = "{url}"\ndata_dir = "{tmp_path / "data"}"\n'
            'secret_key = "shared-by-every-node"\n'
        )
        env = worker_env({"BILLFOLD_CONFIG": str(config)})
        log = tmp_path / "refused.log"
        refused = _gunicorn(free_port(), env, log)
        code = refused.wait(120)
        text = log.read_text()
        assert code != 0, text
        # Gunicorn's arbiter may print its own HaltServer traceback when several workers
        # stop at once (a race inside gunicorn); no traceback may pass through billfold.
        assert not re.search(r'File ".*/(portal|sync|adapters|schemas)/', text), text
        assert "UniqueViolation" not in text, text
        lines = set(re.findall(r"^error: .*$", text, flags=re.M))
        assert lines == {"error: " + _line("none (an empty database)")}, text
        assert "App failed to load" in text  # gunicorn stopped; no restart loop
        store = Store(url)
        assert current_revision(store) is None
        store.dispose()

        upgrade = subprocess.run(
            [sys.executable, "-m", "sync", "db", "upgrade"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert upgrade.returncode == 0, upgrade.stderr
        port = free_port()
        log = tmp_path / "serving.log"
        serving = _gunicorn(port, env, log)
        try:

            def four_workers_up() -> bool:
                assert serving.poll() is None, log.read_text()
                if log.read_text().count("Booting worker with pid") < 4:
                    return False
                try:
                    url = f"http://127.0.0.1:{port}/sign-in"
                    with urllib.request.urlopen(url, timeout=10) as r:
                        return r.status == 200
                except OSError:
                    return False

            wait_until(four_workers_up, 120, "four gunicorn workers serving")
            for _ in range(20):
                url = f"http://127.0.0.1:{port}/healthz"
                with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310
                    assert r.status == 200
            assert serving.poll() is None
        finally:
            serving.send_signal(signal.SIGTERM)
            serving.wait(60)
        text = log.read_text()
        assert text.count("Booting worker with pid") == 4, text  # none died
        assert "Traceback" not in text, text
