"""Uploads choose their source: the one the file continues, else the admin is asked;
an upload that would add customers named like another source's waits for a yes."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from portal import create_app
from schemas.tables import ACCOUNTS, IMPORT_BATCHES
from sync.config import SourceSettings
from sync.engine.pipeline import import_file
from tests.conftest import SAMPLES
from tests.helpers import count, header_without_lines, invoice_row, write_csv
from tests.portal.test_admin import admin_sign_in, page, post

A = ACCOUNTS
B = IMPORT_BATCHES
INVOICES = SAMPLES / "xero_csv" / "harbor_sales_invoices.csv"
CREDIT_NOTES = SAMPLES / "xero_csv" / "harbor_credit_notes.csv"


@pytest.fixture
def office(portal_settings, store, tmp_path):
    """An admin's browser; the store holds source "xero" (a folder of Xero CSVs)."""
    settings = replace(
        portal_settings,
        sources=(SourceSettings(name="xero", path=str(tmp_path / "inbox")),),
    )
    assert import_file(store, settings, INVOICES, source="xero").status == "applied"
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    client = app.test_client()
    admin_sign_in(app, client)
    return client


def upload(client, path, source=None):
    form = {"export": (io.BytesIO(path.read_bytes()), path.name)}
    if source is not None:
        form["source"] = source
    return post(
        client, "/admin/imports/upload", form, content_type="multipart/form-data"
    )


def sources_of(store, name):
    with store.read() as conn:
        return sorted(
            conn.execute(select(A.c.source).where(A.c.name == name)).scalars()
        )


def batch_of(response):
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def test_the_form_no_longer_defaults_to_a_source_of_its_own(office):
    html = page(office, "/admin/imports")
    form = html.split('id="upload-source"')[1].split("</select>")[0]
    assert re.search(r'<option value="" selected>The one the file continues', form)
    assert 'value="upload" selected' not in form


def test_a_later_xero_export_goes_to_the_source_it_continues(office, store):
    # Seen in the field: the form's default source "upload" made a second copy of
    # every customer (two "Pinecrest HOA").
    response = upload(office, CREDIT_NOTES)

    assert response.status_code == 302
    html = page(office, response.headers["Location"])
    assert "Source xero chosen: the file continues it" in html
    with store.read() as conn:
        batch = conn.execute(select(B).where(B.c.id == batch_of(response))).one()
    assert (batch.source, batch.status, batch.created) == ("xero", "applied", 3)
    assert sources_of(store, "Pinecrest HOA") == ["xero"]


def test_an_upload_that_would_duplicate_customers_waits_for_confirmation(office, store):
    accounts = count(store, "account")

    response = upload(office, CREDIT_NOTES, source="upload")

    html = page(office, response.headers["Location"])
    assert "Confirm: customers billfold may already have" in html
    for name in ("Lighthouse Laundromat", "Pinecrest HOA", "Thomas &amp; Rita Okafor"):
        assert f"<li>{name} <span" in html
    assert "(also in xero)" in html and "Import anyway" in html
    assert count(store, "account") == accounts  # nothing written yet
    assert count(store, "credit_note") == 0

    staged = batch_of(response)
    post(office, f"/admin/imports/{staged}/discard")
    assert count(store, "account") == accounts
    assert "discarded" in page(office, f"/admin/imports/{staged}")


def test_import_anyway_applies_the_held_upload(office, store):
    response = upload(office, CREDIT_NOTES, source="upload")

    done = post(office, f"/admin/imports/{batch_of(response)}/publish")

    assert "Published: 3 new" in page(office, done.headers["Location"])
    assert sources_of(store, "Pinecrest HOA") == ["upload", "xero"]


def test_a_file_no_source_continues_asks_which_source(office, store, tmp_path):
    path = write_csv(
        tmp_path / "jobs.csv",
        header_without_lines(),
        [invoice_row("J-1", "Harbor Fish <b>Co</b>", "40.00")],
    )

    asked = upload(office, path)

    assert asked.status_code == 200
    html = asked.get_data(as_text=True)
    assert "Which source does jobs.csv continue?" in html
    assert "no source holds any of the records or customers" in html
    assert '<option value="" selected>Choose a source…</option>' in html
    assert count(store, "import_batch", "file_name = 'jobs.csv'") == 0
    sha = re.search(r'name="sha256" value="([0-9a-f]{64})"', html).group(1)

    chosen = post(
        office,
        "/admin/imports/upload/source",
        {"sha256": sha, "name": "jobs.csv", "source": "upload"},
    )

    assert chosen.status_code == 302
    with store.read() as conn:
        batch = conn.execute(select(B).where(B.c.id == batch_of(chosen))).one()
    assert (batch.file_name, batch.source, batch.status) == (
        "jobs.csv",
        "upload",
        "applied",
    )
    assert sources_of(store, "Harbor Fish <b>Co</b>") == ["upload"]


def test_choosing_a_source_refuses_unknown_sources_and_files(office):
    bad_source = post(
        office,
        "/admin/imports/upload/source",
        {"sha256": "a" * 64, "name": "x.csv", "source": "made-up"},
    )
    bad_sha = post(
        office,
        "/admin/imports/upload/source",
        {"sha256": "../../etc/passwd", "name": "x.csv", "source": "upload"},
    )
    gone = post(
        office,
        "/admin/imports/upload/source",
        {"sha256": "b" * 64, "name": "x.csv", "source": "upload"},
    )

    assert (bad_source.status_code, bad_sha.status_code) == (400, 400)
    assert "no longer here" in page(office, gone.headers["Location"])
