"""`billfold status` and housekeeping."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from schemas.tables import (
    DOCUMENTS,
    LOGIN_TOKENS,
    OUTBOX,
    PORTAL_SESSIONS,
    SIGN_IN_ATTEMPTS,
    utcnow,
)
from sync.cli import main
from sync.config import load_settings
from sync.workers.folder import FolderSource
from sync.workers.housekeeping import purge_sign_in_records, tidy
from sync.workers.s3 import S3Source
from tests.helpers import SAMPLE_LEDGER, count, run_import
from tests.workers import write_config

SOURCE_KEYS = [
    "name", "kind", "location", "schedule", "last_poll", "last_success", "last_error",
    "last_error_at", "files_pending", "in_progress", "last_import", "failed_count",
    "failed_files",
]  # fmt: skip
FAILED_KEYS = [
    "file",
    "status",
    "reason",
    "batch_id",
    "attempts",
    "at",
    "retry_at",
    "moved_to",
]


@pytest.fixture
def configured(settings, tmp_path, aws_env):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = write_config(
        tmp_path / "config.toml",
        settings,
        [
            {
                "name": "inbox",
                "kind": "folder",
                "path": str(inbox),
                "quiet_seconds": 0.0,
            },
            {
                "name": "bucket",
                "kind": "s3",
                "bucket": "nowhere",
                "endpoint_url": "http://127.0.0.1:9",
                "schedule": "every 30 minutes",
            },
        ],
    )
    return config, load_settings(config, env={}), inbox


def _cli(config, *args):
    result = CliRunner().invoke(
        main, ["--config", str(config), *args], catch_exceptions=False
    )
    return result.exit_code, result.output


def test_status_json_shape_and_content(store, configured):
    config, settings, inbox = configured
    (inbox / "ledger.csv").write_bytes(SAMPLE_LEDGER.read_bytes())
    (inbox / "notes.txt").write_bytes(b"not an export\n")
    stopping = threading.Event()
    folder = FolderSource(settings, store, settings.sources[0], stopping)
    folder.scan()
    folder.process_ready()
    folder.process_ready()
    S3Source(settings, store, settings.sources[1], stopping).poll()

    code, out = _cli(config, "status", "--json")

    assert code == 0
    inbox_status, bucket_status = json.loads(out)
    assert list(inbox_status) == SOURCE_KEYS and list(bucket_status) == SOURCE_KEYS
    assert (inbox_status["name"], inbox_status["kind"], inbox_status["location"]) == (
        "inbox",
        "folder",
        str(inbox),
    )
    assert inbox_status["schedule"] == "every 1 minute"
    assert (
        inbox_status["last_poll"].endswith("Z") and inbox_status["last_error"] is None
    )
    assert (inbox_status["files_pending"], inbox_status["in_progress"]) == (0, 0)
    assert inbox_status["last_import"]["file"] == "ledger.csv"
    assert inbox_status["last_import"]["status"] == "applied"
    assert inbox_status["failed_count"] == 1
    (failed,) = inbox_status["failed_files"]
    assert list(failed) == FAILED_KEYS
    assert (failed["file"], failed["status"], failed["attempts"]) == (
        "notes.txt",
        "rejected",
        1,
    )
    assert "unrecognised file" in failed["reason"]
    assert failed["moved_to"].endswith(f"failed/{failed['batch_id']}-notes.txt")

    assert (bucket_status["kind"], bucket_status["location"]) == ("s3", "s3://nowhere/")
    assert bucket_status["schedule"] == "every 30 minutes"
    assert "cannot list s3://nowhere/" in bucket_status["last_error"]
    assert (
        bucket_status["last_success"] is None and bucket_status["last_import"] is None
    )

    code, human = _cli(config, "status")
    assert code == 0
    assert "inbox (folder," in human and "bucket (s3, s3://nowhere/)" in human
    assert "notes.txt: rejected after 1 attempt(s): unrecognised file" in human
    assert "last error:   cannot list" in human


def test_status_before_any_run_and_without_sources(
    store, configured, settings, tmp_path
):
    config, _, _ = configured
    code, out = _cli(config, "status", "--json")
    assert code == 0
    assert [
        (s["name"], s["last_poll"], s["files_pending"]) for s in json.loads(out)
    ] == [
        ("inbox", None, None),
        ("bucket", None, None),
    ]
    bare = write_config(tmp_path / "bare.toml", settings, [])
    assert _cli(bare, "status") == (
        0,
        "(no sources configured)\nmail: 0 waiting, 0 failed\n",
    )
    assert _cli(bare, "status", "--json") == (0, "[]\n")


def test_bad_source_settings_stop_run_and_status_naming_key_and_file(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[[sources]]\nname = "inbox"\npath = "in"\nschedule = "often"\n')
    code, out = _cli(config, "status")
    assert code == 2
    assert f"sources[0] ('inbox').schedule in {config}" in out
    code, out = _cli(config, "run", "--once")
    assert code == 2 and "'often' is not a schedule" in out


def test_housekeeping_purges_only_what_ended_long_ago(store):
    now = utcnow()
    old, recent = now - timedelta(days=10), now - timedelta(hours=1)
    with store.write(ledger=False) as conn:
        for i, (created, expires) in enumerate(
            [(old, old), (recent, now + timedelta(minutes=5))]
        ):
            conn.execute(
                insert(LOGIN_TOKENS).values(
                    token_hash=f"t{i}", principal_kind="contact", principal_id=1,
                    email="a@example.com", created_at=created, expires_at=expires,
                )
            )  # fmt: skip
            conn.execute(
                insert(PORTAL_SESSIONS).values(
                    token_hash=f"s{i}", principal_kind="contact", principal_id=1,
                    created_at=created, last_seen_at=created, expires_at=expires,
                )
            )  # fmt: skip
            conn.execute(insert(SIGN_IN_ATTEMPTS).values(at=created, email_hash="h"))
        # Mail: one sent long ago (gone), one sent lately and one waiting since long
        # ago (a waiting mail is never deleted).
        for state, finished in (("sent", old), ("sent", recent), ("waiting", None)):
            conn.execute(
                insert(OUTBOX).values(
                    kind="message", recipient="a@example.com", state=state,
                    attempts=1, next_attempt_at=old, created_at=old,
                    finished_at=finished, admin_link=False, invited=False,
                )
            )  # fmt: skip

    purged = purge_sign_in_records(store, days=7)

    assert purged == {
        "login_tokens": 1, "sessions": 1, "sign_in_attempts": 1, "outbox": 1,
    }  # fmt: skip
    for table in ("login_token", "portal_session", "sign_in_attempt"):
        assert count(store, table) == 1
    assert count(store, "outbox") == 2


def test_housekeeping_links_documents_whose_record_arrived(
    store, settings, tmp_path, monkeypatch
):
    from sync.engine import batch

    pdf = tmp_path / "1003.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% 1003\n%%EOF\n")
    run_import(store, settings, pdf, source="scans")
    # The export lands without the linking step (as when a worker dies right after).
    with monkeypatch.context() as patch:
        patch.setattr(batch, "link_waiting_documents", lambda *a: None)
        run_import(store, settings, SAMPLE_LEDGER)
    with store.read() as conn:
        assert conn.execute(select(DOCUMENTS.c.account_id)).scalar_one() is None

    tidy(store, settings)

    with store.read() as conn:
        assert conn.execute(select(DOCUMENTS.c.invoice_id)).scalar_one() is not None
