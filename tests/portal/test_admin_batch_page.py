"""Admin: one import's page says what the office manager needs. A file rejected whole
says so, why, where (file, line, column, value when known) and what to do, never
"every record in the file was read"; a duplicate names the import it repeats (a link,
its file name and date)."""

from __future__ import annotations

import html
import re

from sqlalchemy import insert

from adapters.errors import FileRejected, split_reason
from schemas.tables import IMPORT_BATCHES, utcnow
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv
from tests.portal.test_admin import page
from tests.portal.test_admin_contacts import admin_client

HOSTILE = '"><img src=x onerror=alert(1)>.csv'


def text_of(html_text: str) -> str:
    """The page as read: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<[^>]+>", "", html_text)
    return re.sub(r"\s+", " ", html.unescape(body))


def test_a_file_rejected_whole_says_why_where_and_what_to_do(app, world, tmp_path):
    office = admin_client(app)
    p = app.extensions["billfold"]
    header = [*header_without_lines(), "line_description"]
    rows = [[*invoice_row("N-1", "Nash", "10.00"), "Labour"]]
    path = write_csv(tmp_path / HOSTILE, header, rows)
    result = run_import(p.store, p.settings, path, source="books")
    assert result.status == "rejected"
    shown = page(office, f"/admin/imports/{result.batch_id}")
    said = text_of(shown)
    assert "The whole file was rejected" in said
    assert f"Nothing from {HOSTILE} was imported" in said
    assert "line columns (line_description) need a line_no column" in said
    assert re.search(r"Line\s*</dt>\s*<dd>1</dd>", shown)
    assert "What to do:" in said and "upload it again" in said
    assert "every record in the file was read" not in said
    assert "no record was read, because the file was rejected as a whole" in said
    assert (
        "<img src=x" not in shown and "&lt;img src=x onerror=alert(1)&gt;.csv" in shown
    )


def test_an_unrecognised_file_says_which_formats_to_export(app, world, tmp_path):
    office = admin_client(app)
    p = app.extensions["billfold"]
    path = tmp_path / "notes.csv"
    path.write_text("colour,shape\nred,round\n")
    result = run_import(p.store, p.settings, path, source="books")
    said = text_of(page(office, f"/admin/imports/{result.batch_id}"))
    assert "unrecognised file" in said
    assert "Export it again from the billing system in one of the formats" in said


def test_the_value_and_column_of_a_refusal_are_shown_when_known(app, world):
    office = admin_client(app)
    reason = str(FileRejected("a total is not a number", line=7, column="Total",
                              value="<12,5>"))  # fmt: skip
    with app.extensions["billfold"].store.write() as conn:
        batch = conn.execute(
            insert(IMPORT_BATCHES)
            .values(source="books", file_name="sums.csv", sha256="e" * 64, size=5,
                    status="rejected", reason=reason, started_at=utcnow())
            .returning(IMPORT_BATCHES.c.id)
        ).scalar_one()  # fmt: skip
    shown = page(office, f"/admin/imports/{batch}")
    said = text_of(shown)
    assert "Why: a total is not a number" in said
    assert re.search(r"Column\s*</dt>\s*<dd[^>]*>Total</dd>", shown)
    assert "&lt;12,5&gt;" in shown and "'&lt;12,5&gt;'" not in shown
    assert re.search(r"Line\s*</dt>\s*<dd>7</dd>", shown)


def test_split_reason_reads_back_what_file_rejected_wrote():
    error = FileRejected("bad", line=3, column="Due, date", value='it\'s "x"')
    assert split_reason(str(error)) == ("bad", 3, "Due, date", 'it\'s "x"')
    assert split_reason("a reason (with a remark)") == (
        "a reason (with a remark)", None, None, None,
    )  # fmt: skip


def test_a_duplicate_names_the_import_it_repeats(app, world, tmp_path):
    office = admin_client(app)
    p = app.extensions["billfold"]
    rows = [invoice_row("N-9", "Nash", "10.00")]
    first = run_import(
        p.store, p.settings, write_csv(tmp_path / "march.csv", header_without_lines(),
                                       rows), source="books",
    )  # fmt: skip
    again = run_import(
        p.store, p.settings, write_csv(tmp_path / "march-again.csv",
                                       header_without_lines(), rows), source="books",
    )  # fmt: skip
    assert (first.status, again.status) == ("applied", "duplicate")
    shown = page(office, f"/admin/imports/{again.batch_id}")
    said = text_of(shown)
    assert "Already imported: nothing changed" in said
    assert f"the same as import {first.batch_id}: march.csv, received " in said, said
    assert f'href="/admin/imports/{first.batch_id}"' in shown
    assert f"{utcnow():%d %b %Y}" in said
    assert "None: the file was not read again." in said
    assert "every record in the file was read" not in said
