"""Portal fixtures: the standard two-tenant ledger, contacts in every role, a real SMTP sink.

Accounts (source "books"): parent A ("Alder Property Group") with sites A1 and A2, and
B ("Birch Dental") in another tenant; E ("Empty Co") has no documents at all; D is not
enabled for the portal. Contacts: a_parent (billing on A: sees A, A1, A2), a1_only
(billing on A1 only), a_docs (documents role on A), b_user (billing on B), revoked_user
(was on A, revoked), e_user (billing on E), d_user (billing on D, which is disabled).
"""

from __future__ import annotations

import copy
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from portal import create_app
from schemas.tables import Account, ImportBatch, Invoice
from sync.access.contacts import ensure_contact, find_contact, revoke_contact
from sync.access.grants import grant_access
from sync.access.links import issue_link
from sync.config import Settings, SmtpSettings, load_settings
from sync.store import Store
from sync.store.blobs import put_document
from tests.helpers import GENERIC_HEADER, run_import, write_csv

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://evil.example","click")'


def _line(
    kind,
    number,
    customer_id,
    customer,
    total,
    *,
    site="",
    parent="",
    status="",
    balance=None,
    applies="",
    memo="",
    issue="2025-03-01",
    due="2025-03-31",
    paid="",
):  # type: ignore[no-untyped-def]
    row = dict.fromkeys(GENERIC_HEADER, "")
    row.update(
        record_type=kind, number=number, customer_id=customer_id, customer_name=customer,
        issue_date=issue, due_date=due if kind == "invoice" else "", currency="USD", status=status,
        total=total, balance_due=total if balance is None else balance, applies_to=applies,
        memo=memo, amount_paid=paid,
    )  # fmt: skip
    return row, site, parent


LEDGER = [
    _line(
        "invoice", "A-100", "A", "Alder Property Group", "100.00", memo="Portfolio fee"
    ),
    _line(
        "invoice",
        "A1-200",
        "A1",
        "Elm Court",
        "200.00",
        site="Elm Court",
        parent="A",
        balance="50.00",
        paid="150.00",
        memo=XSS,
    ),
    _line(
        "invoice",
        "A2-300",
        "A2",
        "Oak Plaza",
        "300.00",
        site="Oak Plaza",
        parent="A",
        balance="0.00",
        paid="300.00",
        memo=FORMULA,
    ),
    _line(
        "invoice",
        "A2-301",
        "A2",
        "Oak Plaza",
        "30.00",
        site="Oak Plaza",
        parent="A",
        status="draft",
    ),
    _line(
        "credit_note",
        "CN-A1",
        "A1",
        "Elm Court",
        "20.00",
        site="Elm Court",
        parent="A",
        balance="20.00",
    ),
    _line(
        "payment",
        "PAY-A2",
        "A2",
        "Oak Plaza",
        "300.00",
        site="Oak Plaza",
        parent="A",
        balance="0.00",
        applies="A2-300=300.00",
        issue="2025-03-20",
    ),
    _line("invoice", "B-400", "B", "Birch Dental", "400.00", memo="Birch secret"),
    _line("invoice", "D-500", "D", "Dogwood Disabled", "500.00"),
]


@dataclass
class World:
    """Ids of the standard fixture."""

    accounts: dict[str, int] = field(default_factory=dict)
    invoices: dict[str, int] = field(default_factory=dict)
    credit_notes: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)


def seed(store, settings, tmp_path) -> World:  # type: ignore[no-untyped-def]
    header = [*GENERIC_HEADER, "site", "parent_id"]
    rows = []
    for row, site, parent in LEDGER:
        customer_id = row["customer_id"]
        if site:  # a site row names its parent and its site name
            row = {
                **row,
                "customer_id": parent,
                "customer_name": "Alder Property Group",
            }
        rows.append([*(row[h] for h in GENERIC_HEADER), site, ""])
        del customer_id
    header_no_lines = [h for h in header if not h.startswith("line_")]
    rows = [
        [v for h, v in zip(header, r, strict=True) if not h.startswith("line_")]
        for r in rows
    ]
    result = run_import(
        store,
        settings,
        write_csv(tmp_path / "ledger.csv", header_no_lines, rows),
        source="books",
    )
    assert result.rejected == [], result.rejected
    empty = write_csv(
        tmp_path / "empty.csv",
        ["number", "customer_id", "customer", "date", "total"],
        [],
    )
    del empty
    A = Account.__table__
    I = Invoice.__table__  # noqa: E741
    world = World()
    with store.write() as conn:
        conn.execute(
            A.insert().values(
                source="books", external_key="E", name="Empty Co", portal_enabled=True
            )
        )
        for r in conn.execute(select(A.c.id, A.c.external_key)):
            world.accounts[r.external_key] = r.id
        conn.execute(
            update(A)
            .where(A.c.external_key.in_(["A", "B", "E"]))
            .values(portal_enabled=True)
        )
        for r in conn.execute(select(I.c.id, I.c.number)):
            world.invoices[r.number] = r.id
        from schemas.tables import CreditNote, Document

        C = CreditNote.__table__
        for r in conn.execute(select(C.c.id, C.c.number)):
            world.credit_notes[r.number] = r.id
        D = Document.__table__
        for name, kind, account, invoice in (
            ("jobsheet-A1.pdf", "job_sheet", "A:Elm Court", None),
            ("contract-B.pdf", "contract", "B", None),
            ("original-A-100.pdf", "invoice_copy", "A", "A-100"),
        ):
            body = b"%PDF-1.4\n% original " + name.encode() + b"\n%%EOF\n"
            sha, key = put_document(settings, body)
            world.documents[name] = conn.execute(
                D.insert().values(
                    sha256=sha, kind=kind, file_name=name, content_type="application/pdf", size=len(body),
                    storage_key=key, account_id=world.accounts[account],
                    invoice_id=world.invoices[invoice] if invoice else None,
                ).returning(D.c.id)
            ).scalar_one()  # fmt: skip
        grants = {
            "a_parent": [("A", "billing")],
            "a1_only": [("A:Elm Court", "billing")],
            "a_docs": [("A", "documents")],
            "b_user": [("B", "billing")],
            "revoked_user": [("A", "billing")],
            "e_user": [("E", "billing")],
            "d_user": [("D", "billing")],
        }
        for name, account_roles in grants.items():
            contact_id = ensure_contact(
                conn, f"{name}@example.com", name.replace("_", " ").title()
            )
            world.contacts[name] = contact_id
            for key, role in account_roles:
                grant_access(conn, contact_id, world.accounts[key], role)
        revoke_contact(conn, world.contacts["revoked_user"])
    return world


class Sink:
    """A real SMTP server on localhost that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._event = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        with self._event:
            self.messages.append(message_from_bytes(envelope.content))
            self._event.notify_all()
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 60.0) -> Message:  # not money
        with self._event:
            found = self._event.wait_for(
                lambda: any(to in m["To"] for m in self.messages), timeout
            )
            assert found, f"no mail to {to}; got {[m['To'] for m in self.messages]}"
            return next(m for m in reversed(self.messages) if to in m["To"])


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_sink():  # type: ignore[no-untyped-def]
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def _portal(settings: Settings, smtp_port: int) -> Settings:
    smtp = SmtpSettings(
        host="127.0.0.1",
        port=smtp_port,
        security="none",
        from_address="portal@harbor.example",
    )
    return replace(
        settings,
        smtp=smtp,
        base_url="https://portal.example",
        business=replace(
            settings.business,
            name="Harbor Plumbing & Heating",
            email="office@harbor.example",
        ),
    )


@pytest.fixture
def portal_settings(settings, smtp_sink):  # type: ignore[no-untyped-def]
    _, port = smtp_sink
    return _portal(settings, port)


@dataclass
class WorldTemplate:
    """The standard world, seeded once per session (per xdist worker)."""

    world: World
    snapshot: object
    data_dir: Path


@pytest.fixture(scope="session")
def world_template(database, tmp_path_factory) -> Iterator[WorldTemplate]:  # type: ignore[no-untyped-def]
    """Seed the world once into a store of its own and keep it.

    Each test's ``world`` is a copy of it (store rows, stored files), exactly what
    seeding it again would give, in a fraction of the time.
    """
    folder = tmp_path_factory.mktemp("portal-world")
    base = load_settings(None, env={})
    settings = _portal(
        replace(
            base,
            data_dir=folder / "data",
            database_url=database.url_for(folder),
            secret_key="test-secret-key",
        ),
        smtp_port=25,  # seeding sends no mail
    )
    store = Store(settings.resolved_database_url)
    if not store.is_sqlite:  # the session schema: empty it as each test's store does
        database.reset(store)
    world = seed(store, settings, folder)
    snapshot = database.snapshot(store)
    store.dispose()
    yield WorldTemplate(world, snapshot, settings.data_dir)


@pytest.fixture
def world(store, portal_settings, world_template, database) -> World:  # type: ignore[no-untyped-def]
    database.restore(world_template.snapshot, store)
    shutil.copytree(
        world_template.data_dir, portal_settings.data_dir, dirs_exist_ok=True
    )
    B = ImportBatch.__table__
    with store.write(ledger=False) as conn:  # kept originals: in this test's data dir
        conn.execute(
            update(B).values(
                stored_path=func.replace(
                    B.c.stored_path,
                    str(world_template.data_dir),
                    str(portal_settings.data_dir),
                )
            )
        )
    return copy.deepcopy(world_template.world)


@pytest.fixture
def app(portal_settings, store, world):  # type: ignore[no-untyped-def]
    app = create_app(portal_settings, store=store)
    app.config["TESTING"] = True
    yield app
    app.extensions["billfold"].mailer.flush()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def csrf_from(html: str) -> str:
    import re

    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(app, client, name: str) -> Any:  # type: ignore[no-untyped-def]
    """Sign *name* in through a real one-time link (issued directly, consumed by POST)."""
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = find_contact(conn, f"{name}@example.com")
        token = issue_link(conn, "contact", contact["id"], contact["email"], 15)
    page = client.get(f"/sign-in/{token}")
    assert page.status_code == 200, page.get_data(as_text=True)
    response = client.post(
        f"/sign-in/{token}", data={"csrf_token": csrf_from(page.get_data(as_text=True))}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
