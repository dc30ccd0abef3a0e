"""One customer id, one customer (issue 11, item 14).

A placeholder in the customer-id column (``null``, ``N/A``, ``-``, ``0``…) is a missing
id: each customer falls back to its own name, compared in NFC. An id that carries
several names imports with a warning, and its account is held: the portal cannot be
opened to it, and no grant shows it, until an admin confirms it is one customer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import select, text

from schemas.records import Rejection
from schemas.tables import ACCOUNTS, AUDIT_EVENTS
from sync.access import contacts, grants
from sync.store import Store
from sync.store.migrate import alembic_config, upgrade
from tests.adapters import test_quickbooks_api as qb
from tests.adapters import test_xero_api as xero
from tests.conftest import TEST_DATABASE
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv
from tests.sync.cli.test_cli import cli  # noqa: F401  (the fixture)

A = ACCOUNTS
E = AUDIT_EVENTS
COMPOSED, DECOMPOSED = "\u0100kana Dental", "A\u0304kana Dental"  # "Ākana Dental"


def register(tmp_path: Path, name: str, rows: list[tuple[str, str, str]]) -> Path:
    """A generic CSV register: (number, customer id, customer name) per invoice."""
    return write_csv(
        tmp_path / name,
        header_without_lines(),
        [invoice_row(n, who, "10.00", customer_id=cid) for n, cid, who in rows],
    )


def accounts(store) -> dict[str, tuple[str, str | None]]:
    """external key -> (name, names_to_confirm)."""
    with store.read() as conn:
        return {
            r.external_key: (r.name, r.names_to_confirm)
            for r in conn.execute(
                select(A.c.external_key, A.c.name, A.c.names_to_confirm)
            )
        }


def owner_of(store, number: str) -> str:
    with store.read() as conn:
        return conn.execute(
            text(
                "SELECT a.name FROM invoice i JOIN account a ON a.id = i.account_id "
                "WHERE i.number = :n"
            ),
            {"n": number},
        ).scalar_one()


def account_id(store, key: str) -> int:
    with store.read() as conn:
        return conn.execute(select(A.c.id).where(A.c.external_key == key)).scalar_one()


# -- placeholders are missing ids ------------------------------------------------------


def test_a_null_customer_id_on_many_customers_gives_each_its_own_account(
    store, settings, tmp_path
):
    """The regression: 'null' (and its cousins) on rows of several customers used to
    make one account named after the last row."""
    rows = [
        ("7001", "null", "Bayview Café"),
        ("7002", "NULL", "Cedar Dental"),
        ("7003", "N/A", "Bayview Café"),
        ("7004", "-", "Dune Realty"),
        ("7005", "0", "Elm Court HOA"),
        ("7006", "#N/A", COMPOSED),
        ("7007", "", DECOMPOSED),
        ("7008", "none", "Cedar Dental"),
        ("7009", "C-1", "Real Id Co"),
    ]
    result = run_import(store, settings, register(tmp_path, "register.csv", rows))
    assert (result.status, result.created, result.rejected) == ("applied", 9, [])
    with store.read() as conn:
        keys = conn.execute(select(A.c.external_key)).scalars().all()
    assert sorted(keys) == sorted(
        [
            "Bayview Café",
            "Cedar Dental",
            "Dune Realty",
            "Elm Court HOA",
            COMPOSED,
            "C-1",
        ]
    )
    assert all(held is None for _, held in accounts(store).values())
    for number, _, name in rows:
        expected = COMPOSED if name == DECOMPOSED else name
        assert owner_of(store, number) == (expected if name != "Real Id Co" else name)
    assert not any("different names" in w for w in result.warnings)


def test_a_placeholder_id_without_a_name_rejects_its_record(store, settings, tmp_path):
    header = ["number", "customer_id", "date", "total"]
    rows = [["1", "C-1", "2025-03-01", "5"], ["2", "0", "2025-03-01", "5"]]
    result = run_import(store, settings, write_csv(tmp_path / "ids.csv", header, rows))
    [rejected] = result.rejected
    assert (result.created, rejected["column"], rejected["value"]) == (
        1,
        "customer_id",
        "0",
    )
    assert "a real id" in rejected["reason"]
    assert list(accounts(store)) == ["C-1"]


def test_a_decomposed_name_finds_its_account_on_the_command_line(
    cli,  # noqa: F811
    store,
    settings,
    tmp_path,
):
    run_import(store, settings, register(tmp_path, "a.csv", [("1", "", COMPOSED)]))
    code, out = cli("invoices", "--account", DECOMPOSED, "--json")
    assert code == 0, out
    assert [i["number"] for i in json.loads(out)] == ["1"]


def test_placeholder_ids_in_api_exports_reject_the_record_instead_of_merging(tmp_path):
    """An API always gives real ids: a placeholder there is a broken export; taking a
    name instead would split a customer in two, so the record is refused."""
    zero = "00000000-0000-0000-0000-000000000000"
    data = xero.envelope(
        Invoices=[
            xero.invoice("INV-1", Contact={"ContactID": zero, "Name": "Acme"}),
            xero.invoice("INV-2", Contact={"ContactID": zero, "Name": "Birch"}),
        ]
    )
    items = xero.parse_json(tmp_path, data)
    assert [(r.record, r.column, r.value) for r in xero.of(items, Rejection)] == [
        ("invoice INV-1 (Invoices[0])", "Contact.ContactID", zero),
        ("invoice INV-2 (Invoices[1])", "Contact.ContactID", zero),
    ]
    bad = qb.invoice(CustomerRef={"value": "0", "name": "Okafor"})
    [rejection] = xero.of(qb.parse_json(tmp_path, qb.query("Invoice", bad)), Rejection)
    assert (rejection.column, "placeholder" in rejection.reason) == (
        "CustomerRef.value",
        True,
    )


# -- one id, several names ---------------------------------------------------------------


def test_an_id_with_several_names_imports_with_a_warning_and_is_held(
    cli,  # noqa: F811
    store,
    settings,
    tmp_path,
):
    rows = [
        ("8001", "C-17", "Acme Ltd"),
        ("8002", "C-17", "Bayview Café"),
        ("8003", "C-17", "BAYVIEW  CAFE\u0301"),  # the same name: NFC, spaces, case
        ("8004", "K-2", "Kiln Studio"),
    ]
    result = run_import(store, settings, register(tmp_path, "r.csv", rows))
    assert (result.status, result.created) == ("applied", 4)
    [warning] = [w for w in result.warnings if "different names" in w]
    assert "'C-17'" in warning and "2 different names" in warning
    assert "'Acme Ltd'" in warning and "'Bayview Café'" in warning
    found = accounts(store)
    assert json.loads(found["C-17"][1]) == ["Acme Ltd", "Bayview Café"]
    assert found["K-2"][1] is None

    # Neither the command line nor a switch already on opens it.
    code, out = cli("enable", "C-17")
    assert code == 1 and "cannot be opened to the portal" in out
    held = account_id(store, "C-17")
    with store.write(ledger=False) as conn:
        conn.execute(A.update().where(A.c.id == held).values(portal_enabled=True))
        contact = contacts.ensure_contact(conn, "pat@example.com")
        grants.grant_access(conn, contact, held, "billing")
        assert grants.visible_accounts(conn, contact) == {}
    code, out = cli("login-link", "pat@example.com")
    assert code == 2 and "cannot sign in" in out

    code, out = cli("confirm-account", "C-17")
    assert code == 0 and "'Acme Ltd', 'Bayview Café'" in out
    with store.read() as conn:
        assert grants.visible_accounts(conn, contact) == {held: "billing"}
        event = conn.execute(
            select(E.c.actor, E.c.account_id, E.c.detail).where(
                E.c.action == "account_confirmed"
            )
        ).one()
    assert (event.actor, event.account_id) == ("cli", held)
    assert json.loads(event.detail)["names"] == ["Acme Ltd", "Bayview Café"]
    assert cli("enable", "C-17")[0] == 0

    # The same names again are confirmed already; a new one holds it again.
    again = run_import(store, settings, register(tmp_path, "r2.csv", rows[:3]))
    assert not any("different names" in w for w in again.warnings)
    assert accounts(store)["C-17"][1] is None
    third = run_import(
        store, settings, register(tmp_path, "r3.csv", [("8009", "C-17", "Cobalt Inc")])
    )
    assert any("'Cobalt Inc'" in w for w in third.warnings)
    with store.read() as conn:
        assert grants.visible_accounts(conn, contact) == {}


def test_a_name_that_changes_between_files_holds_the_account(store, settings, tmp_path):
    run_import(store, settings, register(tmp_path, "a.csv", [("1", "C-7", "Old Name")]))
    result = run_import(
        store, settings, register(tmp_path, "b.csv", [("2", "C-7", "New Name")])
    )
    [warning] = [w for w in result.warnings if "different names" in w]
    assert "'Old Name', 'New Name'" in warning
    assert json.loads(accounts(store)["C-7"][1]) == ["Old Name", "New Name"]


def test_a_held_account_opens_nothing_below_it_and_is_hidden_under_its_parent(
    store, settings, tmp_path
):
    """A grant on a held parent covers none of its sites; a grant above it still
    covers the sites but never the held account itself."""
    header = [*header_without_lines(), "site", "parent_id"]
    rows = [
        [*invoice_row("S-1", "Acme Ltd", "10.00", customer_id="P"), "Elm Court", ""],
        [*invoice_row("S-2", "Birch Co", "10.00", customer_id="P"), "Oak Plaza", ""],
        [*invoice_row("G-1", "Parent P", "10.00", customer_id="P"), "", "G"],
    ]
    result = run_import(store, settings, write_csv(tmp_path / "s.csv", header, rows))
    assert result.rejected == [], result.rejected
    parent, grandparent = account_id(store, "P"), account_id(store, "G")
    sites = {account_id(store, "P:Elm Court"), account_id(store, "P:Oak Plaza")}
    with store.write(ledger=False) as conn:
        assert conn.execute(
            select(A.c.names_to_confirm).where(A.c.id == parent)
        ).scalar_one()
        conn.execute(A.update().values(portal_enabled=True))
        on_parent = contacts.ensure_contact(conn, "parent@example.com")
        grants.grant_access(conn, on_parent, parent, "billing")
        on_top = contacts.ensure_contact(conn, "top@example.com")
        grants.grant_access(conn, on_top, grandparent, "billing")
        assert grants.visible_accounts(conn, on_parent) == {}
        assert set(grants.visible_accounts(conn, on_top)) == {grandparent, *sites}


# -- stores imported before placeholders were known ------------------------------------


@contextmanager
def empty_database(tmp_path: Path) -> Iterator[Store]:
    """A store with no tables at all (its own schema on PostgreSQL)."""
    if not TEST_DATABASE.startswith("postgresql"):
        store = Store(f"sqlite:///{tmp_path / 'old.db'}")
        yield store
        store.dispose()
        return
    schema = f"m_{uuid.uuid4().hex[:12]}"
    admin = Store(TEST_DATABASE)
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in TEST_DATABASE else "?"
    store = Store(f"{TEST_DATABASE}{sep}options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.dispose()
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_upgrading_holds_accounts_an_old_import_keyed_on_a_placeholder(tmp_path):
    with empty_database(tmp_path) as store:
        config = alembic_config(store)
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0006_claim_last_modified")
        with store.engine.begin() as conn:
            for key, name in (
                ("null", "Last Row Customer"),  # 24 customers merged, say
                ("null:Main Office", "Main Office"),  # a site of that merge
                ("N/A", "N/A"),  # a customer really called "N/A", keyed by name
                ("C-1", "Real Co"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO account (source, external_key, name, portal_enabled, "
                        "created_at) VALUES ('books', :k, :n, true, '2025-01-01')"
                    ),
                    {"k": key, "n": name},
                )
        upgrade(store)
        with store.engine.connect() as conn:
            held = {
                r.external_key: r.names_to_confirm
                for r in conn.execute(
                    text("SELECT external_key, names_to_confirm FROM account")
                )
            }
    assert json.loads(held["null"]) == ["Last Row Customer"]
    assert json.loads(held["null:Main Office"]) == ["Main Office"]
    assert (held["N/A"], held["C-1"]) == (None, None)
