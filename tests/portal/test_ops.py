"""Operations endpoints: /healthz, /readyz, /metrics (and who may see it), request ids."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from sqlalchemy import text

from portal import create_app
from sync.access import outbox
from sync.access.mail import Message
from sync.config import ConfigError, load_settings
from sync.log import LineFormatter, configure, event
from sync.store.metrics import serve_metrics
from sync.store.migrate import head_revision
from sync.workers.status import note_poll
from tests.helpers import (
    SAMPLE_LEDGER,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)

OUTSIDE = "203.0.113.9"


def _app(settings, store, **portal):  # type: ignore[no-untyped-def]
    settings = replace(settings, portal=replace(settings.portal, **portal))
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    return app


def test_healthz_answers_without_the_database(settings, store, monkeypatch):
    app = _app(settings, store)

    def down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")

    monkeypatch.setattr(store, "read", down)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "the database cannot be reached" in response.get_data(as_text=True)


def test_readyz_is_ready_then_names_a_schema_behind_and_an_unwritable_blob_store(
    settings, store
):
    client = _app(settings, store).test_client()
    assert client.get("/readyz").get_data(as_text=True) == "ready\n"

    with store.write(ledger=False) as conn:
        conn.execute(
            text(
                "UPDATE alembic_version SET version_num = '0008_settlement_first_reported'"
            )
        )
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "run `billfold db upgrade`" in response.get_data(as_text=True)
    with store.write(ledger=False) as conn:
        conn.execute(
            text("UPDATE alembic_version SET version_num = :head"),
            {"head": head_revision()},
        )
    assert client.get("/readyz").status_code == 200

    documents = settings.data_dir / "documents"
    if documents.exists():
        documents.rename(settings.data_dir / "documents.away")
    documents.write_text("a file where the documents folder should be")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "the blob store (local) cannot be written" in response.get_data(as_text=True)


def test_metrics_count_requests_by_route_and_read_the_store(settings, store, tmp_path):
    with store.write(ledger=False) as conn:
        outbox.enqueue_message(conn, Message("x@example.com", "Notice", "Hi.\n"))
    bad = write_csv(
        tmp_path / "bad.csv", header_without_lines(), [invoice_row("Z1", "Zed", "oops")]
    )
    run_import(store, settings, SAMPLE_LEDGER, source="books")
    run_import(store, settings, bad, source="books")
    note_poll(store, "books", pending=3)
    client = _app(settings, store).test_client()
    for _ in range(3):
        client.get("/healthz")
    client.get("/no-such-page")
    page = client.get("/metrics")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'billfold_http_requests_total{route="/healthz",status="200"}' in body
    assert 'billfold_http_requests_total{route="(no route)",status="404"}' in body
    assert (
        'billfold_http_request_duration_seconds_bucket{le="0.005",route="/healthz"}'
        in body
    )
    assert 'billfold_outbox_messages{state="waiting"} 1.0' in body
    assert 'billfold_imports_total{source="books",status="applied"} 2.0' in body
    assert 'billfold_import_rows_total{source="books"} 25.0' in body
    assert 'billfold_import_row_errors_total{source="books"} 1.0' in body
    assert 'billfold_claims_waiting{source="books"} 3.0' in body
    [polled] = re.findall(
        r'billfold_source_last_success_timestamp_seconds\{source="books"\} (\S+)', body
    )
    assert abs(float(polled) - time.time()) < 120
    assert "billfold_store_up 1.0" in body


def test_metrics_are_refused_outside_metrics_allow(settings, store):
    client = _app(settings, store).test_client()
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": OUTSIDE})
    assert outside.status_code == 403
    assert "billfold" not in outside.get_data(as_text=True).replace(
        "portal.metrics", ""
    )
    client = _app(settings, store, metrics_allow="203.0.113.0/24").test_client()
    assert (
        client.get("/metrics", environ_base={"REMOTE_ADDR": OUTSIDE}).status_code == 200
    )
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed
    nobody = _app(settings, store, metrics_allow="").test_client()
    assert nobody.get("/metrics").status_code == 403


def test_behind_a_proxy_metrics_go_by_the_real_client(settings, store):
    """The proxy itself is on loopback; the client it forwards is not."""
    client = _app(settings, store, proxy_hops=1).test_client()
    forwarded = client.get("/metrics", headers={"X-Forwarded-For": OUTSIDE})
    assert forwarded.status_code == 403
    local = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
    assert local.status_code == 200


def test_a_request_id_is_echoed_or_made_and_is_on_every_line(settings, store):
    app = _app(settings, store)

    @app.get("/test-logs")
    def logs() -> str:
        event("test.inside")
        logging.getLogger("portal").warning("flask says hello")
        return "ok"

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    keep = Keep()
    keep.setFormatter(LineFormatter("logfmt"))
    configure(logging.INFO)
    for name in ("billfold", "portal"):
        logging.getLogger(name).addHandler(keep)
    try:
        client = app.test_client()
        given = client.get("/test-logs", headers={"X-Request-ID": "edge-1234abcd"})
        made = client.get("/test-logs", headers={"X-Request-ID": "bad id; <script>"})
    finally:
        for name in ("billfold", "portal"):
            logging.getLogger(name).removeHandler(keep)
    assert given.headers["X-Request-ID"] == "edge-1234abcd"
    new = made.headers["X-Request-ID"]
    assert new != "bad id; <script>" and len(new) == 32
    assert [line.split("request_id=")[1] for line in lines] == [
        "edge-1234abcd", "edge-1234abcd", new, new,
    ]  # fmt: skip
    assert 'logger=portal msg="flask says hello"' in lines[1]


def test_json_lines_are_one_object_each():
    record = logging.LogRecord(
        "gunicorn.error", logging.INFO, "", 0, "Booting %s", ("w",), None
    )
    line = LineFormatter("json").format(record)
    assert json.loads(line) | {"ts": None} == {
        "ts": None, "level": "INFO", "logger": "gunicorn.error", "msg": "Booting w",
    }  # fmt: skip


def test_bad_metrics_allow_and_log_format_are_config_errors(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[portal]\nmetrics_allow = "10.0.0.0/8, not-a-network"\n')
    with pytest.raises(ConfigError, match="portal.metrics_allow"):
        load_settings(config, env={})
    config.write_text('[logging]\nformat = "xml"\n')
    with pytest.raises(ConfigError, match='logging.format .* "logfmt" or "json"'):
        load_settings(config, env={})


def test_the_worker_serves_its_metrics_only_to_metrics_allow(settings, store):
    server, _ = serve_metrics(settings, store, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read().decode()
        assert "billfold_store_up 1.0" in body
        assert 'billfold_outbox_messages{state="failed"} 0.0' in body
    finally:
        server.shutdown()
        server.server_close()
    closed = replace(
        settings, portal=replace(settings.portal, metrics_allow="10.0.0.0/8")
    )
    server, _ = serve_metrics(closed, store, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)  # noqa: S310
        assert refused.value.code == 403
        refused.value.close()
    finally:
        server.shutdown()
        server.server_close()
