"""The import pipeline end to end on a real store: idempotence, atomicity, bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import (
    GENERIC_HEADER,
    SAMPLE_LEDGER,
    balances_by_account,
    count,
    dump_business_tables,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)


def test_same_file_twice_is_a_duplicate_and_writes_nothing(store, settings, tmp_path):
    first = run_import(store, settings, SAMPLE_LEDGER)
    assert first.status == "applied"
    assert first.created == 25
    before = dump_business_tables(store)

    again = run_import(store, settings, SAMPLE_LEDGER)
    renamed = tmp_path / "march-export (copy).csv"
    renamed.write_bytes(SAMPLE_LEDGER.read_bytes())
    copy = run_import(store, settings, renamed, source="another-source")

    assert again.status == "duplicate"
    assert copy.status == "duplicate"
    assert (again.created, again.updated, again.unchanged) == (0, 0, 0)
    assert dump_business_tables(store) == before
    assert count(store, "import_batch", "status = 'duplicate'") == 2


def test_reexport_with_one_invoice_changed_updates_exactly_one(
    store, settings, tmp_path
):
    original = SAMPLE_LEDGER.read_text(encoding="utf-8")
    run_import(store, settings, SAMPLE_LEDGER)
    changed = original.replace(
        "invoice,1012,C4,Bayview Café,owner@bayviewcafe.example,2025-06-10,2025-07-10,USD,open,380.00,0.00,380.00,0.00,0.00,380.00",
        "invoice,1012,C4,Bayview Café,owner@bayviewcafe.example,2025-06-10,2025-07-10,USD,partially_paid,380.00,0.00,380.00,100.00,0.00,280.00",
    )
    assert changed != original
    path = tmp_path / "reexport.csv"
    path.write_text(changed, encoding="utf-8")

    result = run_import(store, settings, path)

    assert result.status == "applied"
    assert (result.created, result.updated, result.unchanged) == (0, 1, 24)
    bayview = balances_by_account(store)["Bayview Café|USD"]
    assert bayview["balance_due"] == "708.20"


def test_money_never_passes_through_float(store, settings, tmp_path):
    rows = [invoice_row(f"D{i}", "Dime Store", "0.10") for i in range(3)]
    path = write_csv(tmp_path / "dimes.csv", header_without_lines(), rows)

    run_import(store, settings, path)

    dimes = balances_by_account(store)["Dime Store|USD"]
    assert dimes["total_billed"] == "0.30"
    assert dimes["balance_due"] == "0.30"
    with store.read() as conn:
        raw = conn.exec_driver_sql("SELECT sum(total_minor) FROM invoice").scalar_one()
    assert raw == 30
    assert not isinstance(raw, float)  # SQLite gives int, PostgreSQL an exact Decimal


@pytest.mark.parametrize(
    ("field", "value", "column", "expected"),
    [
        ("issue_date", "2025-02-30", "issue_date", "a real calendar date"),
        ("issue_date", "next tuesday", "issue_date", "a date such as"),
        ("total", "12,50", "total", "an amount such as"),
        ("total", "N/A", "total", "an amount such as"),
        ("number", "", "number", "a document or payment number"),
        # Found by the long fuzz run: an open balance above the total is a misread
        # column, never a balance to show.
        ("balance_due", "428.20", "balance", "between 0 and the invoice total $50.00"),
        ("balance_due", "-5.00", "balance", "between 0 and the invoice total"),
    ],
)
def test_a_bad_cell_rejects_its_record_only(
    store, settings, tmp_path, field, value, column, expected
):
    rows = [
        invoice_row("A1", "Good Co", "100.00"),
        invoice_row("A2", "Bad Co", "50.00", **{field: value}),
        invoice_row("A3", "Good Co", "25.00"),
    ]
    path = write_csv(tmp_path / "mixed.csv", header_without_lines(), rows)

    result = run_import(store, settings, path)

    assert result.status == "applied"
    assert result.created == 2
    [rejected] = result.rejected
    assert rejected["line"] == 3
    assert rejected["column"] == column
    assert rejected["value"] == value
    assert expected in rejected["reason"]
    assert count(store, "invoice") == 2
    assert count(store, "row_error") == 1


def test_a_bad_line_rejects_the_whole_invoice_with_all_its_lines(
    store, settings, tmp_path
):
    rows = [
        ["invoice", "L1", "", "Lines Co", "", "2025-03-01", "", "USD", "open", "", "", "30.00",
         "", "", "30.00", "", "", "1", "Part", "1", "10.00", "10.00", "", "", ""],
        ["invoice", "L1", "", "Lines Co", "", "2025-03-01", "", "USD", "open", "", "", "30.00",
         "", "", "30.00", "", "", "2", "Labour", "two", "20.00", "20.00", "", "", ""],
        ["invoice", "L2", "", "Lines Co", "", "2025-03-02", "", "USD", "open", "", "", "5.00",
         "", "", "5.00", "", "", "1", "Fee", "1", "5.00", "5.00", "", "", ""],
    ]  # fmt: skip
    path = write_csv(tmp_path / "lines.csv", GENERIC_HEADER, rows)

    result = run_import(store, settings, path)

    assert [r["record"] for r in result.rejected] == ["invoice L1"]
    assert result.rejected[0]["column"] == "line_quantity"
    assert result.rejected[0]["line"] == 2
    assert count(store, "invoice") == 1
    assert count(store, "invoice_line") == 1


def test_truncated_last_record_is_rejected_and_earlier_ones_apply(
    store, settings, tmp_path
):
    full = SAMPLE_LEDGER.read_bytes()
    cut = full[
        : full.rindex(b"20931") + 3
    ]  # stop in the middle of the last payment row
    path = tmp_path / "cut.csv"
    path.write_bytes(cut)

    result = run_import(store, settings, path)

    assert result.status == "applied"
    assert result.created == 24
    [rejected] = result.rejected
    assert rejected["line"] == cut.count(b"\n") + 1
    assert "ends in the middle" in rejected["reason"] or "fields" in rejected["reason"]
    assert count(store, "payment") == 7


def test_unterminated_quote_at_end_of_file_rejects_that_record(
    store, settings, tmp_path
):
    rows = [
        invoice_row("Q1", "Quote Co", "10.00"),
        invoice_row("Q2", "Quote Co", "20.00"),
    ]
    path = write_csv(tmp_path / "q.csv", header_without_lines(), rows)
    text = path.read_text().rstrip("\n")
    path.write_text(text[: text.rindex("Quote Co")] + '"Quote Co, Inc')

    result = run_import(store, settings, path)

    assert result.created == 1
    assert [r["record"] for r in result.rejected] == ["invoice Q2"]


def test_file_that_is_no_known_format_is_rejected_whole_and_kept(
    store, settings, tmp_path
):
    path = tmp_path / "notes.csv"
    path.write_text("hello,world\n1,2\n")

    result = run_import(store, settings, path)

    assert result.status == "rejected"
    assert "unrecognised file" in result.reason
    assert "generic CSV" in result.reason
    stored = settings.data_dir / "originals" / result.sha256[:2] / result.sha256
    assert stored.read_bytes() == path.read_bytes()
    assert count(store, "import_batch", "status = 'rejected'") == 1


def test_missing_required_column_names_what_was_expected(store, settings, tmp_path):
    path = tmp_path / "no-total.csv"
    path.write_text("number,customer,date,total\n1,A,2025-01-01,5\n")
    result = run_import(store, settings, path, adapter="generic_csv")
    assert result.status == "applied"

    path2 = tmp_path / "no-total2.csv"
    path2.write_text("number,customer,date\n1,A,2025-01-01\n")
    result2 = run_import(store, settings, path2, adapter="generic_csv")
    assert result2.status == "rejected"
    assert "missing required column(s) total" in result2.reason


def test_undecidable_date_order_rejects_the_file_never_guesses(
    store, settings, tmp_path
):
    rows = [
        invoice_row(
            "U1",
            "Ambiguous Ltd",
            "10.00",
            issue_date="03/04/2025",
            due_date="04/05/2025",
        ),
        invoice_row(
            "U2", "Ambiguous Ltd", "10.00", issue_date="05/06/2025", due_date=""
        ),
    ]
    path = write_csv(tmp_path / "ambiguous.csv", header_without_lines(), rows)

    result = run_import(store, settings, path)

    assert result.status == "rejected"
    assert "day/month order" in result.reason
    assert "03/04/2025" in result.reason
    assert count(store, "invoice") == 0


def test_configured_date_order_decides_an_ambiguous_file(store, settings, tmp_path):
    from dataclasses import replace

    from sync.config import SourceSettings

    rows = [
        invoice_row(
            "U1", "Ambiguous Ltd", "10.00", issue_date="03/04/2025", due_date=""
        )
    ]
    path = write_csv(tmp_path / "ambiguous.csv", header_without_lines(), rows)
    settings = replace(
        settings, sources=(SourceSettings(name="uk", path="x", date_order="DMY"),)
    )

    result = run_import(store, settings, path, source="uk")

    assert result.status == "applied"
    with store.read() as conn:
        issued = conn.exec_driver_sql("SELECT issue_date FROM invoice").scalar_one()
    assert str(issued) == "2025-04-03"


def test_dates_proving_both_orders_reject_the_file(store, settings, tmp_path):
    rows = [
        invoice_row("X1", "Mixed", "10.00", issue_date="25/03/2025", due_date=""),
        invoice_row("X2", "Mixed", "10.00", issue_date="03/25/2025", due_date=""),
    ]
    path = write_csv(tmp_path / "mixed-dates.csv", header_without_lines(), rows)

    result = run_import(store, settings, path)

    assert result.status == "rejected"
    assert "contradict" in result.reason


def test_crash_between_parse_and_commit_leaves_no_partial_batch(
    store, settings, monkeypatch
):
    before = dump_business_tables(store)
    monkeypatch.setenv("BILLFOLD_FAULT", "before_commit:raise")

    result = run_import(store, settings, SAMPLE_LEDGER)

    assert result.status == "failed"
    assert "injected fault" in result.reason
    assert dump_business_tables(store) == before
    assert count(store, "import_batch", "status = 'applied'") == 0
    monkeypatch.delenv("BILLFOLD_FAULT")
    retry = run_import(store, settings, SAMPLE_LEDGER)
    assert retry.status == "applied"
    assert retry.created == 25


@pytest.mark.slow
def test_kill_9_before_commit_leaves_the_store_as_before(store, settings, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\ndatabase_url = "{settings.resolved_database_url}"\n'
    )
    env = {**os.environ, "BILLFOLD_FAULT": "before_commit:kill"}
    cmd = [
        sys.executable,
        "-m",
        "sync",
        "--config",
        str(config),
        "import",
        str(SAMPLE_LEDGER),
    ]

    killed = subprocess.run(cmd, env=env, capture_output=True, timeout=120, check=False)

    assert killed.returncode == -9
    assert count(store, "invoice") == 0
    assert count(store, "import_batch") == 0
    env.pop("BILLFOLD_FAULT")
    again = subprocess.run(cmd, env=env, capture_output=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert count(store, "invoice") == 14
    assert count(store, "import_batch", "status = 'applied'") == 1


def test_older_file_does_not_overwrite_newer_records(store, settings, tmp_path):
    newer = write_csv(
        tmp_path / "newer.csv",
        header_without_lines(),
        [
            invoice_row(
                "N1",
                "Time Co",
                "100.00",
                balance_due="0.00",
                updated_at="2025-06-30T10:00:00Z",
            )
        ],
    )
    older = write_csv(
        tmp_path / "older.csv",
        header_without_lines(),
        [
            invoice_row(
                "N1",
                "Time Co",
                "100.00",
                balance_due="100.00",
                updated_at="2025-06-01T10:00:00Z",
            )
        ],
    )
    run_import(store, settings, newer)

    result = run_import(store, settings, older)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert any("older than the ones already stored" in w for w in result.warnings)
    assert balances_by_account(store)["Time Co|USD"]["balance_due"] == "0.00"


def test_file_mtime_orders_exports_without_record_timestamps(store, settings, tmp_path):
    new = write_csv(
        tmp_path / "new.csv",
        header_without_lines(),
        [invoice_row("M1", "Mt", "9.00", balance_due="0.00")],
    )
    old = write_csv(
        tmp_path / "old.csv", header_without_lines(), [invoice_row("M1", "Mt", "9.00")]
    )
    os.utime(old, (1_700_000_000, 1_700_000_000))
    os.utime(new, (1_750_000_000, 1_750_000_000))
    run_import(store, settings, new)

    result = run_import(store, settings, old)

    assert result.updated == 0
    assert balances_by_account(store)["Mt|USD"]["balance_due"] == "0.00"


def test_same_invoice_twice_with_different_content_rejects_the_second(
    store, settings, tmp_path
):
    rows = [
        invoice_row("D1", "Dup Co", "10.00"),
        invoice_row("D2", "Dup Co", "20.00"),
        invoice_row("D1", "Dup Co", "11.00"),
        invoice_row("D2", "Dup Co", "20.00"),
    ]
    path = write_csv(tmp_path / "dups.csv", header_without_lines(), rows)

    result = run_import(store, settings, path)

    assert result.created == 2
    [rejected] = result.rejected
    assert rejected["record"] == "invoice D1"
    assert rejected["line"] == 4
    assert "appears twice" in rejected["reason"]
    assert any("more than once with the same content" in w for w in result.warnings)


def test_payment_before_its_invoice_is_kept_and_applied_later(
    store, settings, tmp_path
):
    header = header_without_lines()
    pay = write_csv(
        tmp_path / "payments.csv",
        header,
        [["payment", "CHK-1", "", "Early Bird", "", "2025-04-01", "", "USD", "received", "",
          "", "40.00", "", "", "", "E1=40.00", "Check", "", ""]],
    )  # fmt: skip
    inv = write_csv(
        tmp_path / "invoices.csv",
        [h for h in header if h not in ("balance_due", "amount_paid")],
        [["invoice", "E1", "", "Early Bird", "", "2025-03-01", "2025-03-31", "USD", "", "", "",
          "100.00", "", "", "", "", ""]],
    )  # fmt: skip
    run_import(store, settings, pay)
    run_import(store, settings, inv)

    early = balances_by_account(store)["Early Bird|USD"]
    assert early["total_paid"] == "40.00"
    assert early["balance_due"] == "60.00"
    assert early["net_balance"] == "60.00"


def test_snapshot_mode_flags_disappeared_records_without_deleting(
    store, settings, tmp_path
):
    from dataclasses import replace

    from sync.config import SourceSettings

    settings = replace(
        settings, sources=(SourceSettings(name="snap", path="x", mode="snapshot"),)
    )
    header = header_without_lines()
    first = write_csv(
        tmp_path / "s1.csv",
        header,
        [invoice_row("S1", "Snap", "1.00"), invoice_row("S2", "Snap", "2.00")],
    )
    second = write_csv(tmp_path / "s2.csv", header, [invoice_row("S1", "Snap", "1.00")])
    run_import(store, settings, first, source="snap")

    result = run_import(store, settings, second, source="snap")

    assert any("missing from this one" in w for w in result.warnings)
    assert count(store, "invoice") == 2
    assert count(store, "invoice", "missing_since_batch_id IS NOT NULL") == 1
    third = write_csv(
        tmp_path / "s3.csv",
        header,
        [
            invoice_row("S1", "Snap", "1.00"),
            invoice_row("S2", "Snap", "2.00"),
            invoice_row("S3", "Snap", "3.00"),
        ],
    )
    run_import(store, settings, third, source="snap")
    assert count(store, "invoice", "missing_since_batch_id IS NOT NULL") == 0


def test_incremental_mode_ignores_absence(store, settings, tmp_path):
    header = header_without_lines()
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "a.csv",
            header,
            [invoice_row("I1", "Inc", "1.00"), invoice_row("I2", "Inc", "2.00")],
        ),
    )
    result = run_import(
        store,
        settings,
        write_csv(tmp_path / "b.csv", header, [invoice_row("I1", "Inc", "1.50")]),
    )
    assert result.updated == 1
    assert result.warnings == []
    assert count(store, "invoice", "missing_since_batch_id IS NOT NULL") == 0


def test_sources_never_overwrite_each_other(store, settings, tmp_path):
    header = header_without_lines()
    a = write_csv(
        tmp_path / "a.csv", header, [invoice_row("1001", "Shared Name", "10.00")]
    )
    b = write_csv(
        tmp_path / "b.csv", header, [invoice_row("1001", "Shared Name", "99.00")]
    )
    run_import(store, settings, a, source="books")
    result = run_import(store, settings, b, source="field-app")
    assert result.created == 1
    assert count(store, "invoice") == 2
    assert count(store, "account") == 2


def test_void_invoice_keeps_total_and_is_excluded_from_billed(
    store, settings, tmp_path
):
    header = header_without_lines()
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "a.csv",
            header,
            [invoice_row("V1", "Voidy", "80.00"), invoice_row("V2", "Voidy", "20.00")],
        ),
    )
    voided = write_csv(
        tmp_path / "b.csv",
        header,
        [invoice_row("V1", "Voidy", "0.00", status="void", balance_due="0.00")],
    )
    result = run_import(store, settings, voided)
    assert result.updated == 1
    with store.read() as conn:
        total, status = conn.exec_driver_sql(
            "SELECT total_minor, status FROM invoice WHERE number = 'V1'"
        ).one()
    assert (total, status) == (8000, "void")
    voidy = balances_by_account(store)["Voidy|USD"]
    assert (voidy["invoice_count"], voidy["void_invoice_count"]) == (1, 1)
    assert voidy["total_billed"] == "20.00"


def test_import_reads_a_stored_copy_not_the_dropped_file(store, settings, tmp_path):
    path = tmp_path / "drop.csv"
    path.write_bytes(SAMPLE_LEDGER.read_bytes())
    result = run_import(store, settings, path)
    path.unlink()
    stored = Path(settings.data_dir) / "originals" / result.sha256[:2] / result.sha256
    assert stored.read_bytes() == SAMPLE_LEDGER.read_bytes()
