"""The tabular toolkit: what every table adapter gets from declaring its columns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.base import ExportFile, ParseOptions
from adapters.errors import FileRejected
from adapters.toolkit.columns import Column, Columns
from adapters.toolkit.table import Values, check_agreement
from adapters.toolkit.tabular import TabularAdapter
from adapters.toolkit.text import sniff_bytes
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    LineRecord,
    Rejection,
)


class Jobs(TabularAdapter):
    """A job list: title rows, then one row per line with the job's fields repeated."""

    name = "jobs"
    label = "Jobs"
    columns = Columns(
        Column("job", ("jobno",), required=True, fields=("number",)),
        Column("client", required=True, fields=("customer_name",)),
        Column("done", ("completed",), "date", required=True),
        Column("total", kind="amount", required=True),
        Column("task", line=True, fields=("line_description",)),
        Column("hours", kind="amount", line=True),
    )
    no_header = "expected a job list with a Job No. column in its first rows"
    max_preamble = 3

    @classmethod
    def is_header(cls, cells: Sequence[str]) -> bool:
        return "Job No." in cells

    def group_key(self, table, row, previous):  # type: ignore[no-untyped-def]
        return table.cell(row, "job")

    def record_label(self, rows: Sequence[Values]) -> str:
        return f"job {rows[0].raw('job')}"

    def build(self, rows: Sequence[Values]) -> Iterator[Item]:
        check_agreement(rows)
        first = rows[0]
        yield DocumentRecord(
            kind="invoice",
            external_id=first.required("job", "a job number"),
            number=first.required("job", "a job number"),
            account=AccountRecord(key=first.raw("client"), name=first.raw("client")),
            issue_date=first.required("done", "the day the job was done"),
            total=first.required("total", "the job's total"),
            lines=[
                LineRecord(position=i, description=r.raw("task"), quantity=r["hours"])
                for i, r in enumerate(rows, start=1)
            ],
            line=first.line,
        )


HEADER = "Job No.,Client,Completed,Total,Task,Hours\n"


def parse(tmp_path: Path, text: str, **options: object) -> list[Item]:
    path = tmp_path / "jobs.csv"
    path.write_text(text, encoding="utf-8")
    export = ExportFile(path, path.name, sniff_bytes(path.read_bytes()))
    return list(Jobs().parse(export, ParseOptions(**options)))  # type: ignore[arg-type]


def of(items: list[Item], kind: type) -> list:
    return [i for i in items if isinstance(i, kind)]


def test_title_rows_above_the_header_are_skipped(tmp_path):
    items = parse(
        tmp_path,
        "Harbor Plumbing\nJobs in May\n\n" + HEADER + "J1,A,05/20/2025,10.00,Fix,1\n",
    )
    [info] = of(items, ExportInfo)
    assert info.columns == {
        "number": "Job No.",
        "customer_name": "Client",
        "line_description": "Task",
    }
    [job] = of(items, DocumentRecord)
    assert (job.number, job.issue_date, job.line) == ("J1", date(2025, 5, 20), 5)
    with pytest.raises(FileRejected, match="Job No. column"):
        parse(tmp_path, "a\nb\nc\nd\n" + HEADER)


def test_consecutive_rows_of_one_record_are_its_lines(tmp_path):
    items = parse(
        tmp_path,
        HEADER + "J1,A,05/20/2025,30.00,Fix,1\nJ1,A,05/20/2025,30.00,Test,0.5\n"
        "J2,B,05/21/2025,5.00,Call,\n",
    )
    first, second = of(items, DocumentRecord)
    assert [(line.description, line.quantity) for line in first.lines] == [
        ("Fix", Decimal(1)),
        ("Test", Decimal("0.5")),
    ]
    assert (second.number, second.lines[0].quantity) == ("J2", None)


def test_a_bad_cell_rejects_its_record_naming_the_column_as_the_file_does(tmp_path):
    items = parse(
        tmp_path,
        HEADER + "J1,A,05/20/2025,30.00,Fix,1\nJ1,B,05/20/2025,30.00,Test,1\n"
        "J2,B,05/21/2025,lots,Call,1\nJ3,C,05/22/2025,1.00,Visit,1,,\n",
    )
    disagree, amount = of(items, Rejection)
    assert (disagree.line, disagree.record, disagree.column, disagree.value) == (
        2,
        "job J1",
        "Client",
        "B",
    )
    assert "the same Client on every row" in disagree.reason
    assert (amount.line, amount.column, amount.value) == (4, "Total", "lots")
    assert [d.number for d in of(items, DocumentRecord)] == ["J3"]


def test_rows_wider_or_cut_short_reject_their_record_only(tmp_path):
    items = parse(
        tmp_path,
        HEADER
        + "J1,A,05/20/2025,1.00,Fix,1,stray\nJ2,B,05/21/2025,2.00,Call,1\nJ3,C,05/22",
    )
    wide, cut = of(items, Rejection)
    assert "found 7 on line 2 (an unquoted comma?)" in wide.reason
    assert "the file ends in the middle of line 4" in cut.reason
    assert [d.number for d in of(items, DocumentRecord)] == ["J2"]


def test_the_day_month_order_is_decided_from_the_whole_file(tmp_path):
    ambiguous = HEADER + "J1,A,03/04/2025,1.00,Fix,1\n"
    with pytest.raises(FileRejected, match="cannot tell day/month order"):
        parse(tmp_path, ambiguous)
    [job] = of(parse(tmp_path, ambiguous, date_order="DMY"), DocumentRecord)
    assert job.issue_date == date(2025, 4, 3)
    proved = ambiguous + "J2,B,25/04/2025,1.00,Call,1\n"  # a later row proves D/M/Y
    assert [
        d.issue_date
        for d in of(parse(tmp_path, proved, date_order="MDY"), DocumentRecord)
    ] == [
        date(2025, 4, 3),
        date(2025, 4, 25),
    ]


def test_columns_are_found_by_name_or_by_the_sources_mapping(tmp_path):
    renamed = (
        "Job No.,Customer,Completed,Total,Task,Hours\nJ1,A,2025-05-20,1.00,Fix,1\n"
    )
    with pytest.raises(FileRejected, match=r"missing required column\(s\) client"):
        parse(tmp_path, renamed)
    [job] = of(parse(tmp_path, renamed, columns={"client": "Customer"}), DocumentRecord)
    assert job.account.key == "A"
    with pytest.raises(FileRejected, match="appears twice"):
        parse(tmp_path, "Job No.,Client,Client,Completed,Total\n")


def test_a_field_too_big_for_csv_refuses_the_file_not_a_crash(tmp_path):
    with pytest.raises(FileRejected, match="expected CSV text"):
        parse(tmp_path, HEADER + 'J1,"' + "x" * (17 << 20) + '",05/20/2025,1,a,1\n')
