"""The command-line contract: JSON fields, exit codes, human output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sync.cli import main
from tests.helpers import SAMPLE_LEDGER, header_without_lines, invoice_row, write_csv

IMPORT_KEYS = [
    "file",
    "sha256",
    "adapter",
    "status",
    "created",
    "updated",
    "unchanged",
    "rejected",
    "warnings",
]
REJECTED_KEYS = {"line", "record", "column", "value", "reason"}
BALANCE_KEYS = [
    "account", "account_key", "parent", "currency", "invoice_count", "void_invoice_count",
    "total_billed", "total_paid", "balance_due", "credit_note_count", "credit_note_total",
    "remaining_credit", "unapplied_payments", "net_balance",
]  # fmt: skip


@pytest.fixture
def cli(settings, store, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\ndatabase_url = "{settings.resolved_database_url}"\n'
    )

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(
            main, ["--config", str(config), *args], catch_exceptions=False
        )
        return result.exit_code, result.output

    return run


def test_import_json_follows_the_contract(cli, tmp_path):
    bad = write_csv(
        tmp_path / "bad.csv", header_without_lines(), [invoice_row("Z1", "Zed", "oops")]
    )
    code, out = cli("import", "--json", str(SAMPLE_LEDGER), str(bad))
    assert code == 0  # applied files, even with rejected records, exit 0
    applied, partial = json.loads(out)
    assert list(applied)[: len(IMPORT_KEYS)] == IMPORT_KEYS
    assert (applied["status"], applied["adapter"], applied["created"]) == (
        "applied",
        "generic_csv",
        25,
    )
    assert partial["created"] == 0
    [rejected] = partial["rejected"]
    assert set(rejected) == REJECTED_KEYS
    assert (rejected["line"], rejected["column"], rejected["value"]) == (
        2,
        "total",
        "oops",
    )

    code, out = cli("import", "--json", str(SAMPLE_LEDGER))
    assert code == 0
    assert json.loads(out)[0]["status"] == "duplicate"


def test_a_file_rejected_whole_exits_1(cli, tmp_path):
    junk = tmp_path / "junk.txt"
    junk.write_text("not an export\n")
    code, out = cli("import", "--json", str(junk))
    assert code == 1
    [result] = json.loads(out)
    assert result["status"] == "rejected" and "unrecognised" in result["reason"]


def test_usage_errors_exit_2(cli):
    assert cli("import")[0] == 2
    assert cli("balances", "--account", "Nobody")[0] == 2
    assert cli("import", "--adapter", "nope", str(SAMPLE_LEDGER))[0] == 1


def test_balances_json_follows_the_contract(cli):
    cli("import", str(SAMPLE_LEDGER))
    code, out = cli("balances", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 7
    assert all(list(r) == BALANCE_KEYS for r in rows)
    pinecrest = next(r for r in rows if r["account"] == "Pinecrest HOA")
    assert pinecrest["net_balance"] == "-75.00"
    code, out = cli("balances", "--json", "--account", "C6")
    assert [r["account"] for r in json.loads(out)] == ["Pinecrest HOA"]


def test_balances_say_unknown_as_null(cli, tmp_path):
    header = [h for h in header_without_lines() if h not in ("balance_due",)]
    rows = [
        [
            v
            for h, v in zip(
                header_without_lines(),
                invoice_row("U1", "Unknowable", "10.00"),
                strict=True,
            )
            if h != "balance_due"
        ]
    ]
    cli("import", str(write_csv(tmp_path / "u.csv", header, rows)))
    [row] = json.loads(cli("balances", "--json")[1])
    assert row["balance_due"] is None
    assert row["total_paid"] is None
    assert row["net_balance"] is None
    assert row["total_billed"] == "10.00"


def test_invoices_lists_an_account_with_status(cli):
    cli("import", str(SAMPLE_LEDGER))
    code, out = cli("invoices", "--account", "Oakridge Property Management", "--json")
    assert code == 0
    invoices = json.loads(out)
    assert [i["number"] for i in invoices] == ["1014", "1006", "1002"]
    # Status is the settlement state; overdue is a flag of its own (issue 11, item 6).
    assert invoices[0]["status"] == "partially_paid"
    assert invoices[0]["overdue"] is True and invoices[0]["balance_due"] == "281.15"
    assert (invoices[1]["status"], invoices[1]["overdue"]) == ("paid", False)
    code, out = cli("invoices", "--account", "C2")
    [row] = [line for line in out.splitlines() if line.startswith("1014 ")]
    assert "partially_paid" in row and row.rstrip().endswith("overdue")


def test_human_import_output_names_rejections(cli, tmp_path):
    bad = write_csv(
        tmp_path / "bad.csv", header_without_lines(), [invoice_row("Z1", "Zed", "oops")]
    )
    code, out = cli("import", str(bad))
    assert code == 0
    assert "bad.csv: APPLIED (generic_csv)" in out
    assert "rejected invoice Z1 (line 2, column total, value 'oops')" in out


def test_db_upgrade_reports_state(cli):
    code, out = cli("db", "upgrade")
    assert code == 0 and "up to date" in out


def test_bad_config_exits_2_with_the_key(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("colour = 1\n")
    result = CliRunner().invoke(main, ["--config", str(config), "balances"])
    assert result.exit_code == 2
    assert "unknown setting colour" in result.output


def test_mark_paid_and_undo_from_the_command_line(cli, tmp_path):
    path = write_csv(
        tmp_path / "m.csv",
        header_without_lines(),
        [invoice_row("CLI-1", "Cli Co", "80.00")],
    )
    cli("import", str(path))
    code, out = cli(
        "mark-paid",
        "CLI-1",
        "--amount",
        "30.00",
        "--date",
        "2025-06-01",
        "--method",
        "cash",
    )
    assert code == 0, out
    mark_id = int(out.rsplit("mark ", 1)[1].rstrip(")\n"))
    [row] = json.loads(cli("invoices", "--account", "Cli Co", "--json")[1])
    assert (row["status"], row["balance_due"]) == ("partially_paid", "50.00")
    assert cli("mark-paid", "CLI-1", "--amount", "80.001")[0] == 2
    assert cli("mark-paid", "NOPE")[0] == 2
    code, out = cli("mark-paid", "--undo", str(mark_id))
    assert code == 0
    [row] = json.loads(cli("invoices", "--account", "Cli Co", "--json")[1])
    assert row["balance_due"] == "80.00"


def test_admin_add_prints_a_link_without_smtp(cli):
    code, out = cli("admin", "add", "Office@Example.com", "--no-email")
    assert code == 0 and "/admin/sign-in/" in out
    assert cli("admin", "remove", "office@example.com")[0] == 0
    assert (
        cli("admin", "remove", "office@example.com")[0] == 0
    )  # removing twice is harmless
    assert cli("admin", "remove", "nobody@example.com")[0] == 2


def test_mark_paid_reads_amounts_in_the_business_locale(cli, settings, tmp_path):
    path = write_csv(
        tmp_path / "m.csv",
        header_without_lines(),
        [invoice_row("CLI-2", "Cli Co", "80.00")],
    )
    cli("import", str(path))
    code, out = cli("mark-paid", "CLI-2", "--amount", "8,50")
    assert code == 2 and "Did you mean 8.50?" in out
    config = tmp_path / "de.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
        '[business]\nlocale = "de_DE"\n'
    )
    german = CliRunner().invoke(
        main, ["--config", str(config), "mark-paid", "CLI-2", "--received", "8,50"]
    )
    assert german.exit_code == 0, german.output
    assert "payment recorded" in german.output and "71,50" in german.output
    again = CliRunner().invoke(
        main, ["--config", str(config), "mark-paid", "CLI-2", "--amount", "8,50"]
    )
    assert again.exit_code == 2 and "would change nothing" in again.output
    [row] = json.loads(cli("invoices", "--account", "Cli Co", "--json")[1])
    assert row["balance_due"] == "71.50"
