"""New accounts named like another source's accounts: a warning on every import path,
held for confirmation when asked (the portal's uploads)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from schemas.tables import ACCOUNTS, IMPORT_BATCHES
from sync.cli import main
from sync.engine.pipeline import import_file, publish_staged
from tests.conftest import SAMPLES
from tests.helpers import count, header_without_lines, invoice_row, write_csv

A = ACCOUNTS
B = IMPORT_BATCHES
XERO_INVOICES = SAMPLES / "xero_csv" / "harbor_sales_invoices.csv"
XERO_CREDIT_NOTES = SAMPLES / "xero_csv" / "harbor_credit_notes.csv"
CREDIT_NOTE_CUSTOMERS = [
    "Lighthouse Laundromat",
    "Pinecrest HOA",
    "Thomas & Rita Okafor",
]


def accounts_named(store, name):
    with store.read() as conn:
        return sorted(
            conn.execute(select(A.c.source).where(A.c.name == name)).scalars()
        )


def test_a_later_export_imported_into_another_source_warns_with_the_names(
    store, settings
):
    first = import_file(store, settings, XERO_INVOICES, source="xero")
    assert not any("same name" in w for w in first.warnings)

    later = import_file(store, settings, XERO_CREDIT_NOTES, source="upload")

    assert later.status == "applied"  # a warning, never a rejection
    warning = later.warnings[0]
    assert warning.startswith("3 new account(s) have the same name as an account")
    for name in CREDIT_NOTE_CUSTOMERS:
        assert f"{name} (also in xero)" in warning
    assert accounts_named(store, "Pinecrest HOA") == ["upload", "xero"]
    with store.read() as conn:
        stored = conn.execute(select(B.c.warnings).where(B.c.id == later.batch_id))
        assert warning in json.loads(stored.scalar_one())


def test_names_are_compared_nfc_and_casefolded_and_the_list_is_bounded(
    store, settings, tmp_path
):
    names = [f"Customer {n:02d}" for n in range(12)]
    theirs = write_csv(
        tmp_path / "theirs.csv",
        header_without_lines(),
        [invoice_row(f"T{n}", name, "10.00") for n, name in enumerate(names)]
        + [invoice_row("T99", "Bayview Café", "10.00")],
    )
    import_file(store, settings, theirs, source="books")
    ours = write_csv(
        tmp_path / "ours.csv",
        header_without_lines(),
        [invoice_row(f"O{n}", name.upper(), "10.00") for n, name in enumerate(names)]
        + [
            invoice_row(
                "O98", "BAYVIEW  CAFE\u0301", "10.00"
            ),  # decomposed é, 2 spaces
            invoice_row("O99", "Someone New", "10.00"),
        ],
    )

    result = import_file(store, settings, ours, source="upload")

    warning = result.warnings[0]
    assert warning.startswith("13 new account(s)")
    assert "BAYVIEW  CAF\u00c9 (also in books)" in warning  # stored NFC, sorted first
    assert warning.count("(also in books)") == 10
    assert "and 3 more." in warning
    assert "Someone New" not in warning
    from sync.engine.namesakes import fold

    assert fold("BAYVIEW  CAFE\u0301") == fold("Bayview Café")


def test_accounts_of_the_same_source_are_no_namesakes(store, settings, tmp_path):
    rows = [invoice_row("S1", "Bayview Café", "10.00")]
    import_file(
        store,
        settings,
        write_csv(tmp_path / "a.csv", header_without_lines(), rows),
        source="books",
    )
    rows.append(invoice_row("S2", "Harbor Fish", "10.00"))
    again = import_file(
        store,
        settings,
        write_csv(tmp_path / "b.csv", header_without_lines(), rows),
        source="books",
    )
    assert again.created == 1 and again.warnings == []


def test_held_import_is_staged_until_confirmed_and_then_applied(store, settings):
    import_file(store, settings, XERO_INVOICES, source="xero")
    before = count(store, "account")

    held = import_file(
        store, settings, XERO_CREDIT_NOTES, source="upload", hold_namesakes=True
    )

    assert held.status == "staged"
    assert count(store, "account") == before  # nothing written
    assert count(store, "credit_note") == 0
    with store.read() as conn:
        diff = json.loads(
            conn.execute(select(B.c.diff).where(B.c.id == held.batch_id)).scalar_one()
        )
    assert [n["name"] for n in diff["namesakes"]] == CREDIT_NOTE_CUSTOMERS
    assert {tuple(n["sources"]) for n in diff["namesakes"]} == {("xero",)}

    published = publish_staged(store, settings, held.batch_id, "admin:test")

    assert published.status == "applied"
    assert count(store, "account") == before + 3
    assert accounts_named(store, "Pinecrest HOA") == ["upload", "xero"]


def test_held_import_without_namesakes_applies_at_once(store, settings):
    import_file(store, settings, XERO_INVOICES, source="xero")

    result = import_file(
        store, settings, XERO_CREDIT_NOTES, source="xero", hold_namesakes=True
    )

    assert result.status == "applied" and result.created == 3
    assert accounts_named(store, "Pinecrest HOA") == ["xero"]


@pytest.fixture
def cli(settings, store, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
    )

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            main, ["--config", str(config), *args], catch_exceptions=False
        )
        return result.exit_code, result.output

    return run


def test_billfold_import_reports_the_warning_and_still_exits_0(cli):
    assert cli("import", "--source", "xero", str(XERO_INVOICES))[0] == 0

    code, out = cli("import", "--source", "upload", "--json", str(XERO_CREDIT_NOTES))

    assert code == 0
    (report,) = json.loads(out)
    assert report["status"] == "applied"
    assert "Pinecrest HOA (also in xero)" in report["warnings"][0]


def test_billfold_import_prints_the_warning(cli, tmp_path):
    cli("import", "--source", "xero", str(XERO_INVOICES))
    rows = [invoice_row("U1", "Bayview Café", "10.00")]
    path = write_csv(tmp_path / "u.csv", header_without_lines(), rows)

    code, out = cli("import", "--source", "upload", str(path))

    assert code == 0
    assert (
        "  warning: 1 new account(s) have the same name as an account of another "
        "source, so the same customer may now be in billfold twice: Bayview Café "
        "(also in xero)." in out
    )
