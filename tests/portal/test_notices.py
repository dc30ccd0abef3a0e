"""Notices by email: monthly statements and digests, through the outbox, to a real SMTP
server (the aiosmtpd sink), with unsubscribe links that need no sign-in.

The standard world (tests/portal/conftest.py): a_parent sees A (Alder Property Group)
and its sites; a_docs sees A with the documents role; b_user sees B.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from email.message import Message

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from schemas.money import format_money, to_minor
from schemas.tables import (
    ACCOUNTS,
    AUDIT_EVENTS,
    DOCUMENTS,
    NOTICE_SUBSCRIPTIONS,
    NOTICES,
    OUTBOX,
    utcnow,
)
from sync.access import grants, notices
from sync.access.contacts import revoke_contact
from sync.access.outbox import deliver_due
from sync.errors import UsageError
from sync.store.blobs import put_document
from tests.helpers import GENERIC_HEADER, run_import, write_csv
from tests.portal.conftest import XSS, csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in, page, post

MONDAY = date(2026, 12, 14)
STATEMENT_DAY = date(2025, 4, 2)  # March 2025's statement is due (statement_day = 1)


def _subscribe(store, world, name: str, account: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    with store.write(ledger=False) as conn:
        notices.set_notice(
            conn,
            world.contacts[name],
            world.accounts[account],
            kind,
            True,
            actor="test",
        )


def _send(store, settings, owner: str = "test-sender") -> None:  # type: ignore[no-untyped-def]
    deliver_due(store, settings, owner)


def _mails(sink, to: str) -> list[Message]:  # type: ignore[no-untyped-def]
    return [m for m in sink.messages if to in m["To"]]


def _part(mail: Message, kind: str) -> str:
    for part in mail.walk():
        if part.get_content_type() == kind and not part.get_filename():
            return part.get_payload(decode=True).decode()
    raise AssertionError(f"no {kind} part")


def _pdf_text(mail: Message) -> tuple[str, str]:
    for part in mail.walk():
        if part.get_content_type() == "application/pdf":
            reader = PdfReader(io.BytesIO(part.get_payload(decode=True)))
            return part.get_filename(), "\n".join(
                p.extract_text() for p in reader.pages
            )
    raise AssertionError("no PDF attached")


def _import(store, settings, tmp_path, name: str, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    header = [h for h in GENERIC_HEADER if not h.startswith("line_")] + ["site"]
    lines = []
    for values in rows:
        row = {"currency": "USD", "issue_date": "2026-12-08", "due_date": "2027-01-07",
               "record_type": "invoice", **values}  # fmt: skip
        row.setdefault("balance_due", row.get("total", ""))
        lines.append([row.get(h, "") for h in header])
    result = run_import(store, settings, write_csv(tmp_path / name, header, lines),
                        source="books")  # fmt: skip
    assert result.rejected == [], result.rejected


def _add_document(
    store, settings, world, name: str, account: str, kind: str = "job_sheet"
) -> int:  # type: ignore[no-untyped-def]
    body = b"%PDF-1.4\n% " + name.encode() + b"\n%%EOF\n"
    sha, key = put_document(settings, body)
    with store.write(ledger=False) as conn:
        return conn.execute(
            DOCUMENTS.insert().values(
                sha256=sha, kind=kind, file_name=name, content_type="application/pdf",
                size=len(body), storage_key=key, account_id=world.accounts[account],
            ).returning(DOCUMENTS.c.id)
        ).scalar_one()  # fmt: skip


def _portal_closing(client, world) -> int:  # type: ignore[no-untyped-def]
    """March 2025's closing balance of A as the portal's statement download says."""
    response = client.get(
        f"/statements/download?account={world.accounts['A']}&from=2025-03-01"
        "&to=2025-03-31&format=csv"
    )
    assert response.status_code == 200
    rows = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    return sum(
        to_minor(Decimal(r["balance"]), "USD")
        for r in rows
        if r["type"] == "closing_balance"
    )


# -- the monthly statement ----------------------------------------------------------------


def test_statement_arrives_by_smtp_with_the_portals_figures_in_its_pdf(
    app, client, store, portal_settings, world, smtp_sink
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "a_parent", "A", "statement")
    planned = notices.plan_due(store, portal_settings, STATEMENT_DAY)
    assert planned.statements == 1
    _send(store, portal_settings)
    mail = sink.wait_for("a_parent@example.com")
    assert mail["Subject"] == "Harbor Plumbing & Heating: your statement for March 2025"
    assert "Harbor Plumbing & Heating" in mail["From"]
    unsubscribe = mail["List-Unsubscribe"]
    assert unsubscribe.startswith("<https://portal.example/notices/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"].startswith("<billfold-notice-")  # the same on a retry
    name, text = _pdf_text(mail)
    assert name == "statement-2025-03.pdf"
    sign_in(app, client, "a_parent")
    closing = format_money(_portal_closing(client, world), "USD")
    assert "Alder Property Group" in text
    assert "01 Mar 2025 – 31 Mar 2025" in text
    assert closing in text
    body = _part(mail, "text/plain")
    assert f"Balance on 31 Mar 2025: {closing}" in body
    assert unsubscribe.strip("<>") in body
    html = _part(mail, "text/html")
    assert (
        "Harbor Plumbing &amp; Heating" in html
        and "border-top:6px solid #1f4e79" in html
    )


def test_a_statement_is_planned_once_per_month_and_not_before_its_day(
    store, portal_settings, world
):  # type: ignore[no-untyped-def]
    _subscribe(store, world, "a_parent", "A", "statement")
    late = replace(
        portal_settings, notices=replace(portal_settings.notices, statement_day=5)
    )
    assert notices.plan_due(store, late, STATEMENT_DAY).statements == 0
    assert notices.plan_due(store, late, date(2025, 4, 5)).statements == 1
    assert notices.plan_due(store, late, date(2025, 4, 20)).statements == 0
    assert notices.plan_due(store, late, date(2025, 5, 5)).statements == 1
    off = replace(
        portal_settings, notices=replace(portal_settings.notices, statement_day=0)
    )
    assert notices.plan_due(store, off, date(2025, 6, 1)).statements == 0


def test_a_documents_only_contact_cannot_have_statements(store, world):  # type: ignore[no-untyped-def]
    with store.write(ledger=False) as conn:
        kinds = {c.kind for c in notices.choices(conn, world.contacts["a_docs"])}
        assert kinds == {"digest"}
        with pytest.raises(UsageError, match="billing role"):
            notices.set_notice(conn, world.contacts["a_docs"], world.accounts["A"],
                               "statement", True, actor="test")  # fmt: skip
        with pytest.raises(UsageError):  # another customer's account
            notices.set_notice(conn, world.contacts["a_parent"], world.accounts["B"],
                               "digest", True, actor="test")  # fmt: skip


# -- the digest ------------------------------------------------------------------------------


def test_digest_lists_only_new_visible_items_once(
    store, portal_settings, world, smtp_sink, tmp_path
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "a_parent", "A", "digest")
    # What was there before the contact subscribed is not new.
    assert notices.plan_due(store, portal_settings, MONDAY).digests == 0
    _import(store, portal_settings, tmp_path, "new.csv", [
        {"number": "A-900", "customer_id": "A", "customer_name": "Alder Property Group",
         "site": "Elm Court", "total": "90.00"},
        {"number": "A-901", "customer_id": "A", "customer_name": "Alder Property Group",
         "total": "91.00", "status": "draft"},
        {"number": "B-901", "customer_id": "B", "customer_name": "Birch Dental",
         "total": "99.00"},
    ])  # fmt: skip
    with store.write(
        ledger=False
    ) as conn:  # a hostile site name, as an import may bring
        conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == world.accounts["A:Elm Court"])
                     .values(name=XSS))  # fmt: skip
    _add_document(store, portal_settings, world, "jobsheet-new-A.pdf", "A")
    _add_document(store, portal_settings, world, "contract-new-B.pdf", "B")
    tuesday = MONDAY + timedelta(days=1)
    assert (
        notices.plan_due(store, portal_settings, tuesday).digests == 0
    )  # weekly: Mondays
    next_monday = MONDAY + timedelta(days=7)
    assert notices.plan_due(store, portal_settings, next_monday).digests == 1
    _send(store, portal_settings)
    mail = sink.wait_for("a_parent@example.com")
    body = _part(mail, "text/plain")
    assert (
        mail["Subject"] == "Harbor Plumbing & Heating: 2 new items in your account"
    ), body
    body = _part(mail, "text/plain")
    assert "Invoice A-900" in body and "jobsheet-new-A.pdf" in body
    for hidden in ("A-901", "B-901", "contract-new-B.pdf", "A-100", "jobsheet-A1.pdf"):
        assert hidden not in body
    html = _part(mail, "text/html")
    assert "<script>" not in html and "&lt;script&gt;" in html
    # Told once: nothing new, nothing sent, daily or weekly.
    daily = replace(
        portal_settings, notices=replace(portal_settings.notices, digest="daily")
    )
    assert notices.plan_due(store, daily, next_monday + timedelta(days=1)).digests == 0
    assert (
        notices.plan_due(
            store, portal_settings, next_monday + timedelta(days=7)
        ).digests
        == 0
    )
    _send(store, portal_settings)
    assert len(_mails(sink, "a_parent@example.com")) == 1


def test_digest_is_off_when_configured_off(store, portal_settings, world):  # type: ignore[no-untyped-def]
    _subscribe(store, world, "a_parent", "A", "digest")
    _add_document(store, portal_settings, world, "jobsheet-new-A.pdf", "A")
    off = replace(
        portal_settings, notices=replace(portal_settings.notices, digest="off")
    )
    assert notices.plan_due(store, off, MONDAY).digests == 0
    assert notices.plan_due(store, portal_settings, MONDAY).digests == 1


# -- who gets nothing ---------------------------------------------------------------------------


def test_a_revoked_contact_or_an_account_no_longer_granted_gets_nothing(
    store, portal_settings, world, smtp_sink
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "b_user", "B", "statement")
    _subscribe(store, world, "a_parent", "A", "statement")
    with store.write(ledger=False) as conn:
        grants.remove_grant(
            conn, world.contacts["b_user"], world.accounts["B"], actor="test"
        )
    # Planned while still allowed, then revoked before the sender got to it.
    assert notices.plan_due(store, portal_settings, STATEMENT_DAY).statements == 1
    with store.write(ledger=False) as conn:
        revoke_contact(conn, world.contacts["a_parent"])
    _send(store, portal_settings)
    with store.read() as conn:
        states = conn.execute(select(OUTBOX.c.state, OUTBOX.c.last_error)).all()
    assert [s.state for s in states] == ["dropped"]
    assert "access ended" in states[0].last_error
    assert sink.messages == []


def test_a_notice_turned_off_after_planning_is_not_sent(
    store, portal_settings, world, smtp_sink
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "a_parent", "A", "statement")
    notices.plan_due(store, portal_settings, STATEMENT_DAY)
    with store.write(ledger=False) as conn:
        notices.unsubscribe(conn, world.contacts["a_parent"], "statement", actor="test")
    _send(store, portal_settings)
    assert sink.messages == []


# -- exactly once ---------------------------------------------------------------------------


def test_a_crash_between_plan_and_send_duplicates_nothing(
    store, portal_settings, world, smtp_sink
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "a_parent", "A", "statement")
    _subscribe(store, world, "b_user", "B", "statement")
    # Two nodes plan at once: each notice is recorded by exactly one of them.
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(
            notices.plan_due(store, portal_settings, STATEMENT_DAY)))
        for _ in range(2)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.statements for r in results) == 2
    # A sender leased one and died before sending: its lease ran out.
    with store.write(ledger=False) as conn:
        first = conn.execute(select(func.min(OUTBOX.c.id))).scalar_one()
        conn.execute(update(OUTBOX).where(OUTBOX.c.id == first).values(
            lease_owner="crashed", lease_until=utcnow() - timedelta(seconds=1)))  # fmt: skip
    # The restarted node plans again (nothing new) and two senders race.
    assert notices.plan_due(store, portal_settings, STATEMENT_DAY).statements == 0
    senders = [threading.Thread(target=_send, args=(store, portal_settings, f"node{i}"))
               for i in range(2)]  # fmt: skip
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    _send(store, portal_settings)
    sink.wait_for("a_parent@example.com")
    sink.wait_for("b_user@example.com")
    assert sorted(m["To"] for m in sink.messages) == [
        "a_parent@example.com", "b_user@example.com",
    ]  # fmt: skip
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(NOTICES)).scalar_one() == 2
        assert set(conn.execute(select(OUTBOX.c.state)).scalars()) == {"sent"}


# -- unsubscribing without signing in -----------------------------------------------------------


def _subscribed(store, world, name: str, kind: str) -> bool:  # type: ignore[no-untyped-def]
    S = NOTICE_SUBSCRIPTIONS
    with store.read() as conn:
        return (
            conn.execute(
                select(S.c.id).where(
                    S.c.contact_id == world.contacts[name], S.c.kind == kind
                )
            ).first()
            is not None
        )


def test_unsubscribe_link_asks_on_get_and_unsubscribes_on_post(
    app, store, portal_settings, world
):  # type: ignore[no-untyped-def]
    _subscribe(store, world, "a_parent", "A", "digest")
    _subscribe(store, world, "a_parent", "A", "statement")
    url = notices.unsubscribe_url(portal_settings, world.contacts["a_parent"], "digest")
    path = url.removeprefix("https://portal.example")
    visitor = app.test_client()  # not signed in, no CSRF token
    shown = visitor.get(path)
    assert shown.status_code == 200
    assert "Stop these emails?" in shown.get_data(as_text=True)
    assert _subscribed(store, world, "a_parent", "digest")  # a GET changes nothing
    done = visitor.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(
        as_text=True
    )
    assert not _subscribed(store, world, "a_parent", "digest")
    assert _subscribed(store, world, "a_parent", "statement")  # scoped to its kind
    with store.read() as conn:
        actions = conn.execute(
            select(AUDIT_EVENTS.c.actor, AUDIT_EVENTS.c.action).where(
                AUDIT_EVENTS.c.action == "notice_off"
            )
        ).all()
    assert [tuple(a) for a in actions] == [
        (f"contact:{world.contacts['a_parent']}", "notice_off")
    ]


def test_one_click_unsubscribe_post_works_without_csrf(
    app, store, portal_settings, world
):  # type: ignore[no-untyped-def]
    _subscribe(store, world, "b_user", "B", "statement")
    url = notices.unsubscribe_url(
        portal_settings, world.contacts["b_user"], "statement"
    )
    response = app.test_client().post(
        url.removeprefix("https://portal.example"),
        data={"List-Unsubscribe": "One-Click"},
    )
    assert response.status_code == 200
    assert not _subscribed(store, world, "b_user", "statement")


def test_forged_or_altered_unsubscribe_tokens_are_refused(
    app, store, portal_settings, world
):  # type: ignore[no-untyped-def]
    _subscribe(store, world, "b_user", "B", "statement")
    good = notices.unsubscribe_token(
        portal_settings, world.contacts["b_user"], "statement"
    )
    other_key = replace(portal_settings, secret_key="another-secret")
    forged = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        notices.unsubscribe_token(other_key, world.contacts["b_user"], "statement"),
        "eyJjIjoxLCJrIjoic3RhdGVtZW50In0",  # the payload, unsigned
    ]
    visitor = app.test_client()
    for token in forged:
        assert visitor.get(f"/notices/unsubscribe/{token}").status_code == 404
        assert visitor.post(f"/notices/unsubscribe/{token}").status_code == 404
    assert notices.read_unsubscribe_token(portal_settings, good) == (
        world.contacts["b_user"], "statement",
    )  # fmt: skip
    assert _subscribed(store, world, "b_user", "statement")


# -- the customer's page and the admin's -----------------------------------------------------


def _save(client, data: dict):  # type: ignore[no-untyped-def]
    csrf = csrf_from(page(client, "/notices"))
    return client.post("/notices", data={"csrf_token": csrf, **data})


def test_a_contact_chooses_notices_on_the_portal(app, client, store, world):  # type: ignore[no-untyped-def]
    sign_in(app, client, "a1_only")
    html = page(client, "/notices")
    assert "Elm Court" in html and "Monthly statement (PDF)" in html
    value = f"{world.accounts['A:Elm Court']}:statement"
    assert _save(client, {"notice": [value]}).status_code == 302
    assert _subscribed(store, world, "a1_only", "statement")
    assert "checked" in page(client, "/notices")
    assert _save(client, {}).status_code == 302
    assert not _subscribed(store, world, "a1_only", "statement")
    assert (
        client.post("/notices", data={"notice": [value]}).status_code == 400
    )  # no CSRF


def test_admins_see_who_receives_what_and_switch_it(
    app, store, portal_settings, world, smtp_sink
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "b_user", "B", "digest")
    _add_document(store, portal_settings, world, "contract-new-B.pdf", "B")
    assert notices.plan_due(store, portal_settings, MONDAY).digests == 1
    _send(store, portal_settings)
    sink.wait_for("b_user@example.com")
    admin = app.test_client()
    admin_sign_in(app, admin)
    listing = page(admin, "/admin/notices")
    assert "b_user@example.com" in listing and "New invoices and documents" in listing
    assert "(sent)" in listing
    contact_id = world.contacts["a_parent"]
    shown = page(admin, f"/admin/contacts/{contact_id}")
    assert "Email notices" in shown
    value = f"{world.accounts['A']}:statement"
    response = post(admin, f"/admin/contacts/{contact_id}/notices", {"notice": [value]})
    assert response.status_code == 302
    assert _subscribed(store, world, "a_parent", "statement")
    with store.read() as conn:
        event = conn.execute(
            select(AUDIT_EVENTS.c.actor, AUDIT_EVENTS.c.record_id).where(
                AUDIT_EVENTS.c.action == "notice_on",
                AUDIT_EVENTS.c.record_id == contact_id,
            )
        ).one()
    assert event.actor == "admin:office@harbor.example"
    assert "a_parent@example.com" in page(admin, "/admin/notices")
    log = page(admin, "/admin/audit")
    assert "a_parent@example.com will get the monthly statement for" in log


# -- billfold run, configuration and README ------------------------------------------------


def test_billfold_run_once_plans_and_sends_the_statement(
    store, portal_settings, world, smtp_sink, tmp_path
):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from sync.cli import main

    sink, port = smtp_sink
    _subscribe(store, world, "a_parent", "A", "statement")
    config = _run_config(tmp_path, portal_settings, port)
    ran = CliRunner().invoke(main, ["run", "--once", "--config", str(config)])
    assert ran.exit_code == 0, ran.output
    mail = sink.wait_for("a_parent@example.com")
    last_month = utcnow().date().replace(day=1) - timedelta(days=1)
    assert f"your statement for {last_month:%B %Y}" in mail["Subject"]
    again = CliRunner().invoke(main, ["run", "--once", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert len(_mails(sink, "a_parent@example.com")) == 1


@pytest.mark.slow
def test_a_worker_killed_between_plan_and_send_sends_each_notice_once(
    store, portal_settings, world, smtp_sink, tmp_path
):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from tests.workers import ROOT, worker_env

    sink, port = smtp_sink
    _subscribe(store, world, "a_parent", "A", "statement")
    _subscribe(store, world, "b_user", "B", "statement")
    config = _run_config(tmp_path, portal_settings, port)

    def run(fault: str = "") -> int:
        env = worker_env({"BILLFOLD_FAULT": fault} if fault else None)
        command = [
            sys.executable,
            "-m",
            "sync",
            "run",
            "--once",
            "--config",
            str(config),
        ]
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True,
                              timeout=120, check=False).returncode  # fmt: skip

    # SIGKILLed right after the first notice and its mail were recorded: nothing sent.
    assert run("notice_planned:kill") == -9
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(NOTICES)).scalar_one() == 1
    assert sink.messages == []
    assert run() == 0  # the restart plans the other and sends both, once
    assert run() == 0
    sink.wait_for("a_parent@example.com")
    sink.wait_for("b_user@example.com")
    assert sorted(m["To"] for m in sink.messages) == [
        "a_parent@example.com", "b_user@example.com",
    ]  # fmt: skip


def _run_config(tmp_path, settings, port: int):  # type: ignore[no-untyped-def]
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
        'secret_key = "test-secret-key"\nbase_url = "https://portal.example"\n'
        '[business]\nname = "Harbor Plumbing & Heating"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from_address = "portal@harbor.example"\n'
        '[notices]\nstatement_day = 1\ndigest = "off"\n'
        f'[[sources]]\nname = "books"\nkind = "folder"\npath = "{inbox}"\n'
    )
    return config


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("statement_day = 31", "notices.statement_day"),
        ('digest = "hourly"', "notices.digest"),
        ('schedule = "now and then"', "notices.schedule"),
    ],
)
def test_bad_notice_settings_are_named(tmp_path, table, problem):  # type: ignore[no-untyped-def]
    from sync.config import load_settings
    from sync.errors import ConfigError

    config = tmp_path / "config.toml"
    config.write_text(f"[notices]\n{table}\n")
    with pytest.raises(ConfigError, match=problem):
        load_settings(config, env={})


def test_readme_documents_the_notice_settings_and_their_defaults():  # type: ignore[no-untyped-def]
    import tomllib
    from dataclasses import fields
    from pathlib import Path

    from sync.config import NoticeSettings

    root = Path(__file__).resolve().parents[2]
    readme = root.joinpath("README.md").read_text()
    section = readme.split("### Notices by email", 1)[1].split("\n## ", 1)[0]
    block = section.split("```toml", 1)[1].split("```", 1)[0]
    documented = tomllib.loads(block)["notices"]
    defaults = {f.name: f.default for f in fields(NoticeSettings)}
    assert documented == defaults
    example = tomllib.loads(root.joinpath("config.example.toml").read_text())
    assert example["notices"] == defaults
    for words in (
        "/notices",
        "/admin/notices",
        "List-Unsubscribe-Post",
        "billfold run",
    ):
        assert words in section


def test_an_account_closed_to_the_portal_or_held_gets_no_notice(
    store, portal_settings, world, smtp_sink, tmp_path
):  # type: ignore[no-untyped-def]
    sink, _ = smtp_sink
    _subscribe(store, world, "b_user", "B", "statement")
    _subscribe(store, world, "b_user", "B", "digest")
    _add_document(store, portal_settings, world, "contract-new-B.pdf", "B")
    with store.write(ledger=False) as conn:  # the pilot is rolled back for B
        grants.set_portal_enabled(conn, world.accounts["B"], False, actor="test")
        assert notices.choices(conn, world.contacts["b_user"]) == []
    planned = notices.plan_due(store, portal_settings, date(2025, 4, 6))  # a Sunday
    daily = replace(
        portal_settings, notices=replace(portal_settings.notices, digest="daily")
    )
    planned_daily = notices.plan_due(store, daily, date(2025, 4, 7))
    assert (planned.statements, planned_daily.digests) == (0, 0)
    with store.write(ledger=False) as conn:  # held for its names: the same
        grants.set_portal_enabled(conn, world.accounts["B"], True, actor="test")
        conn.execute(update(ACCOUNTS).where(ACCOUNTS.c.id == world.accounts["B"])
                     .values(names_to_confirm='["Birch Dental", "Birch Dental Ltd"]'))  # fmt: skip
    assert notices.plan_due(store, daily, date(2025, 5, 1)).statements == 0
    _send(store, portal_settings)
    assert sink.messages == []
