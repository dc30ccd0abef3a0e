"""`billfold run --once` pulls API sources; kill -9 mid-pull loses and duplicates nothing."""

from __future__ import annotations

import signal
from collections import Counter

import pytest
from sqlalchemy import select

from schemas.tables import IMPORT_BATCHES, JOB_LOCKS
from sync.ledger.balances import balances
from sync.pulls.requests import request_pull
from tests.helpers import count
from tests.sync.pulls.conftest import XERO_SECRET
from tests.sync.pulls.test_xero_pull import _golden_balances
from tests.workers import Worker, run_once, wait_until, write_config


def _config(tmp_path, settings, fake):
    source = {
        "name": "xero", "kind": "xero", "client_id": fake.tokens.client_id,
        "client_secret_env": "XERO_CLIENT_SECRET", "tenant_id": fake.tenant,
        "api_url": fake.url + "/api.xro/2.0", "token_url": fake.url + fake.token_path,
    }  # fmt: skip
    return write_config(tmp_path / "billfold.toml", settings, [source])


@pytest.mark.slow  # real worker processes
def test_kill_9_mid_pull_loses_and_duplicates_nothing(
    store, settings, tmp_path, fake_xero
):
    config = _config(tmp_path, settings, fake_xero)
    secret = {"XERO_CLIENT_SECRET": XERO_SECRET}

    killed = run_once(config, log=tmp_path / "killed.log",
                      env={**secret, "BILLFOLD_FAULT": "pulled_page@2:kill"})  # fmt: skip
    assert killed == -signal.SIGKILL, (tmp_path / "killed.log").read_text()
    assert count(store, "import_batch", "source = 'xero'") == 2
    before = len(fake_xero.data_requests())

    assert run_once(config, log=tmp_path / "rerun.log", env=secret) == 0

    resumed = fake_xero.data_requests()[before]
    assert (resumed.path.rsplit("/", 1)[1], resumed.query["page"]) == (
        "CreditNotes",
        "2",
    )
    with store.read() as conn:
        applied = Counter(
            conn.execute(
                select(IMPORT_BATCHES.c.sha256).where(
                    IMPORT_BATCHES.c.status == "applied"
                )
            ).scalars()
        )
        assert balances(conn) == _golden_balances()
    assert set(applied.values()) == {1} and len(applied) == 3
    assert (count(store, "invoice"), count(store, "payment")) == (14, 9)


@pytest.mark.slow  # a real worker process
def test_run_once_exits_1_when_the_connection_is_revoked(
    store, settings, tmp_path, fake_xero
):
    fake_xero.tokens.revoked = True
    config = _config(tmp_path, settings, fake_xero)
    log = tmp_path / "run.log"
    assert run_once(config, log=log, env={"XERO_CLIENT_SECRET": XERO_SECRET}) == 1
    assert "status=revoked" in log.read_text()


@pytest.mark.slow  # a real worker process
def test_a_running_worker_pulls_a_source_when_asked(
    store, settings, tmp_path, fake_xero
):
    config = _config(tmp_path, settings, fake_xero)
    text = config.read_text().replace(
        'kind = "xero"', 'kind = "xero"\nschedule = "every 24 hours"'
    )
    config.write_text(text)
    env = {"XERO_CLIENT_SECRET": XERO_SECRET}
    with Worker(config, log=tmp_path / "run.log", env=env) as worker:
        wait_until(lambda: count(store, "invoice") == 14, what="the first pull")
        wait_until(lambda: worker_is_idle(store), what="the first pull to end")
        before = len(fake_xero.data_requests())
        with store.write(ledger=False) as conn:
            request_pull(conn, "xero", "webhook")
        worker.wait_for_log("event=pull.asked source=xero")
        wait_until(
            lambda: len(fake_xero.data_requests()) > before, what="the asked-for pull"
        )
        assert worker.stop() == 0


def worker_is_idle(store) -> bool:  # type: ignore[no-untyped-def]
    """No pull holds the source's job lock."""
    with store.read() as conn:
        return not conn.execute(
            select(JOB_LOCKS.c.name).where(JOB_LOCKS.c.name == "pull:xero")
        ).first()
