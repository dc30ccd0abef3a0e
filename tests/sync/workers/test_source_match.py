"""Which source an upload continues: adapter family and the records and customers the
file shares with each source; a clear best is chosen, anything else is asked."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sync.config import SourceSettings
from sync.engine.intake import take_in
from sync.engine.pipeline import import_file
from sync.workers import source_match
from sync.workers.source_match import Candidate, choose_source, decide, family
from tests.conftest import SAMPLES
from tests.helpers import header_without_lines, invoice_row, write_csv

XERO_CSV = SAMPLES / "xero_csv"
XERO_API = SAMPLES / "xero_api" / "harbor_merged_envelope.json"
QB_INVOICE_LIST = SAMPLES / "quickbooks_report" / "harbor_invoice_list.csv"


def choose(store, settings, path):
    return choose_source(store, settings, take_in(path, settings.data_dir))


@pytest.mark.parametrize(
    ("adapter", "expected"),
    [
        ("xero_csv", "xero"),
        ("xero_api", "xero"),
        ("quickbooks_report", "quickbooks"),
        ("quickbooks_iif", "quickbooks"),
        ("generic_csv", "generic"),
        ("document", None),
        (None, None),
    ],
)
def test_adapter_families(adapter, expected):
    assert family(adapter) == expected


def test_a_later_xero_export_continues_the_source_holding_its_customers(
    store, settings
):
    import_file(store, settings, XERO_CSV / "harbor_sales_invoices.csv", source="xero")
    import_file(store, settings, QB_INVOICE_LIST, source="quickbooks")

    choice = choose(store, settings, XERO_CSV / "harbor_credit_notes.csv")

    assert choice.source == "xero"
    assert choice.adapter == "xero_csv"
    assert choice.reason == (
        "the file continues it: format xero; 0 of 3 records and 3 of 3 customers "
        "already there"
    )
    # QuickBooks knows the same customers by name, but it is another billing system.
    quickbooks = next(c for c in choice.candidates if c.source == "quickbooks")
    assert (quickbooks.same_family, quickbooks.customers) == (False, 3)
    assert not quickbooks.continues


def test_the_api_and_the_csv_export_of_one_xero_organisation_are_one_family(
    store, settings
):
    import_file(store, settings, XERO_API, source="xero")

    choice = choose(store, settings, XERO_CSV / "harbor_sales_invoices.csv")

    assert choice.source == "xero"


def test_a_configured_source_with_an_adapter_counts_before_its_first_batch(
    store, settings
):
    cfg = replace(
        settings,
        sources=(
            SourceSettings(name="xero", adapter="xero_csv"),
            SourceSettings(name="books", kind="quickbooks"),
        ),
    )
    ranked = {c.source: c for c in choose(store, cfg, XERO_API).candidates}
    assert (ranked["xero"].families, ranked["books"].families) == (
        ("xero",),
        ("quickbooks",),
    )
    assert ranked["xero"].same_family and not ranked["books"].same_family


def test_a_file_nothing_holds_is_asked_about(store, settings, tmp_path):
    import_file(store, settings, XERO_CSV / "harbor_sales_invoices.csv", source="xero")
    path = write_csv(
        tmp_path / "new.csv",
        header_without_lines(),
        [invoice_row("N1", "Someone New", "10.00")],
    )

    choice = choose(store, settings, path)

    assert choice.source is None
    assert choice.reason == (
        "no source holds any of the records or customers of a generic_csv file in "
        "the same format family"
    )
    assert [c.source for c in choice.candidates] == ["xero"]


def test_two_sources_holding_as_much_of_the_file_are_asked_about(store, settings):
    invoices = XERO_CSV / "harbor_sales_invoices.csv"
    import_file(store, settings, invoices, source="xero")
    import_file(store, settings, XERO_API, source="upload")  # a copy made earlier

    choice = choose(store, settings, XERO_CSV / "harbor_credit_notes.csv")

    assert choice.source is None
    assert choice.reason.startswith("sources upload and xero both hold")


def test_a_clear_majority_wins_over_a_stray_match():
    def candidate(source, records, customers):
        return Candidate(source, ("xero",), True, records, customers, 20, 5)

    clear = decide([candidate("xero", 18, 5), candidate("upload", 2, 1)], "xero_csv")
    close = decide([candidate("xero", 18, 5), candidate("upload", 10, 2)], "xero_csv")

    assert clear.source == "xero"
    assert close.source is None


def test_headers_a_source_maps_are_read_with_that_sources_columns(
    store, settings, tmp_path
):
    cfg = replace(
        settings,
        sources=(
            SourceSettings(
                name="jobs", adapter="generic_csv", columns={"number": "Ticket"}
            ),
        ),
    )
    header = ["Ticket" if h == "number" else h for h in header_without_lines()]
    first = write_csv(
        tmp_path / "a.csv", header, [invoice_row("J1", "Harbor Fish", "10.00")]
    )
    assert import_file(store, cfg, first, source="jobs").created == 1
    later = write_csv(
        tmp_path / "b.csv",
        header,
        [invoice_row("J1", "Harbor Fish", "10.00"), invoice_row("J2", "X", "1.00")],
    )

    choice = choose(store, cfg, later)

    assert choice.source == "jobs"
    assert (choice.candidates[0].records, choice.candidates[0].sampled_records) == (
        1,
        2,
    )


def test_only_the_start_of_a_large_file_is_read(store, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(source_match, "SAMPLE", 5)
    rows = [invoice_row(f"L{n}", f"Customer {n}", "1.00") for n in range(50)]
    path = write_csv(tmp_path / "large.csv", header_without_lines(), rows)

    found = source_match.read_identities(settings, take_in(path, settings.data_dir))

    assert found.records == {"invoice": {f"L{n}" for n in range(5)}}
    assert len(found.customers) == 5


def test_documents_and_unknown_files_are_asked_about(store, settings, tmp_path):
    pdf = tmp_path / "INV-1.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"GIF89a" + b"\x00" * 10)

    assert choose(store, settings, pdf).source is None
    assert choose(store, settings, junk).adapter is None


def test_an_adapter_that_breaks_leaves_the_choice_to_the_admin(
    store, settings, tmp_path, monkeypatch
):
    from adapters.generic_csv import GenericCsv

    def broken(self, export, options):
        yield from ()
        raise RuntimeError("an adapter bug")

    monkeypatch.setattr(GenericCsv, "parse", broken)
    path = write_csv(
        tmp_path / "a.csv", header_without_lines(), [invoice_row("1", "A", "1.00")]
    )

    choice = choose(store, settings, path)

    assert (choice.source, choice.adapter) == (None, "generic_csv")
