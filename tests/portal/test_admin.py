"""Admin portal: sign-in, imports (upload, batch page, original, review gate), paid
marks (single, undo, bulk), conflicts and customers' "I've paid"."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, text

from portal import create_app
from schemas.tables import IMPORT_BATCHES
from sync.access import contacts, links
from sync.config import SourceSettings
from tests.helpers import SAMPLE_LEDGER, header_without_lines, invoice_row, write_csv
from tests.portal.conftest import csrf_from, sign_in


def admin_sign_in(app, client, email: str = "office@harbor.example") -> None:
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        admin_id = contacts.ensure_admin(conn, email)
        token = links.issue_link(conn, "admin", admin_id, email, 15)
    page = client.get(f"/admin/sign-in/{token}")
    assert page.status_code == 200
    response = client.post(
        f"/admin/sign-in/{token}",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def post(client, path: str, data: dict | None = None, **kw):
    csrf = csrf_from(client.get("/admin/").get_data(as_text=True))
    return client.post(path, data={"csrf_token": csrf, **(data or {})}, **kw)


def test_admin_sign_in_by_emailed_link(app, client, smtp_sink):
    sink, _ = smtp_sink
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contacts.ensure_admin(conn, "office@harbor.example")
    form = client.get("/admin/sign-in")
    assert "Admin sign-in" in form.get_data(as_text=True)
    client.post(
        "/admin/sign-in",
        data={
            "email": "office@harbor.example",
            "csrf_token": csrf_from(form.get_data(as_text=True)),
        },
    )
    app.extensions["billfold"].mailer.flush()
    body = sink.wait_for("office@harbor.example").get_payload(decode=True).decode()
    assert "/admin/sign-in/" in body
    token = body.split("/admin/sign-in/")[1].split()[0]
    confirm = client.get(f"/admin/sign-in/{token}")
    assert (
        client.post(
            f"/admin/sign-in/{token}",
            data={"csrf_token": csrf_from(confirm.get_data(as_text=True))},
        ).status_code
        == 302
    )
    assert "billfold admin" in page(client, "/admin/")


def test_links_only_work_for_their_own_kind(app, client, world):
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "a_parent@example.com")
        customer_token = links.issue_link(
            conn, "contact", contact["id"], contact["email"], 15
        )
        admin_id = contacts.ensure_admin(conn, "office@harbor.example")
        admin_token = links.issue_link(
            conn, "admin", admin_id, "office@harbor.example", 15
        )
    assert client.get(f"/admin/sign-in/{customer_token}").status_code == 410
    assert client.get(f"/sign-in/{admin_token}").status_code == 410
    sign_in(app, client, "a_parent")
    assert (
        client.get("/admin/").status_code == 302
    )  # a customer session is not an admin one


def test_upload_then_batch_page_with_rejected_rows_and_original(app, client, tmp_path):
    admin_sign_in(app, client)
    rows = [
        invoice_row("U1", "Upload Co", "10.00"),
        invoice_row("U2", "Upload Co", "12,50"),
    ]
    data = write_csv(tmp_path / "u.csv", header_without_lines(), rows).read_bytes()
    response = post(
        client,
        "/admin/imports/upload",
        {
            "export": (io.BytesIO(data), "../../etc/<img src=x onerror=alert(1)>.csv"),
            "source": "upload",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    html = page(client, response.headers["Location"])
    heading = html.split("<h1>")[1].split("</h1>")[0]
    assert (
        "&lt;img src=x onerror=alert(1)&gt;.csv" in heading
    )  # the directories are dropped
    assert "<img" not in html and "../" not in heading
    assert "12,50" in html and "expected an amount" in html
    batch_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    original = client.get(f"/admin/imports/{batch_id}/original")
    assert (
        original.data == data
        and "attachment" in original.headers["Content-Disposition"]
    )


def test_an_original_that_cannot_be_read_is_not_found(app, client, tmp_path):
    """Kept bytes gone, or unreadable (here a folder where the file was): a 404, never
    a 500, and the page says nothing of the data directory."""
    admin_sign_in(app, client)
    data = write_csv(tmp_path / "u.csv", header_without_lines(), [
        invoice_row("U1", "Upload Co", "10.00"),
    ]).read_bytes()  # fmt: skip
    response = post(
        client,
        "/admin/imports/upload",
        {"export": (io.BytesIO(data), "u.csv"), "source": "upload"},
        content_type="multipart/form-data",
    )
    batch_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with app.extensions["billfold"].store.read() as conn:
        stored = conn.execute(
            select(IMPORT_BATCHES.c.stored_path).where(IMPORT_BATCHES.c.id == batch_id)
        ).scalar_one()
    kept = Path(stored)
    kept.unlink()
    assert client.get(f"/admin/imports/{batch_id}/original").status_code == 404
    kept.mkdir()
    missing = client.get(f"/admin/imports/{batch_id}/original")
    assert missing.status_code == 404
    assert "originals" not in missing.get_data(as_text=True)


def test_upload_of_a_non_export_or_an_empty_file_says_why(app, client):
    admin_sign_in(app, client)
    # (PDF, PNG and JPEG files are documents; a GIF is neither export nor document.)
    gif = b"GIF89a" + b"\x00" * 100
    response = post(
        client,
        "/admin/imports/upload",
        {"export": (io.BytesIO(gif), "photo.csv"), "source": "upload"},
        content_type="multipart/form-data",
    )
    html = page(client, response.headers["Location"])
    assert "rejected" in html and "unrecognised file" in html
    empty = post(
        client,
        "/admin/imports/upload",
        {"export": (io.BytesIO(b""), "empty.csv"), "source": "upload"},
        content_type="multipart/form-data",
    )
    assert "is empty" in page(client, empty.headers["Location"])
    bad_source = post(
        client,
        "/admin/imports/upload",
        {"export": (io.BytesIO(b"x"), "x.csv"), "source": "made-up"},
        content_type="multipart/form-data",
    )
    assert bad_source.status_code == 400


def test_an_oversized_upload_is_refused(portal_settings, store, world):
    settings = replace(
        portal_settings, portal=replace(portal_settings.portal, upload_max_mb=1)
    )
    app = create_app(settings, store=store)
    client = app.test_client()
    admin_sign_in(app, client)
    csrf = csrf_from(client.get("/admin/").get_data(as_text=True))
    boundary = "billfoldtest"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="export"; filename="big.csv"\r\n\r\n'
        ).encode()
        + b"1,A,2025-01-01,5\n" * 80_000
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post(
        "/admin/imports/upload",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 413
    assert "File too large" in response.get_data(as_text=True)
    with store.read() as conn:
        t = IMPORT_BATCHES
        assert conn.execute(select(t).where(t.c.file_name == "big.csv")).first() is None


def test_review_gate_from_the_admin_pages(portal_settings, store, world, tmp_path):
    settings = replace(
        portal_settings,
        sources=(SourceSettings(name="reviewed", path=str(tmp_path), review=True),),
    )
    app = create_app(settings, store=store)
    client = app.test_client()
    admin_sign_in(app, client)
    response = post(
        client,
        "/admin/imports/upload",
        {
            "export": (io.BytesIO(SAMPLE_LEDGER.read_bytes()), "ledger.csv"),
            "source": "reviewed",
        },
        content_type="multipart/form-data",
    )
    location = response.headers["Location"]
    html = page(client, location)
    assert "Waiting for review" in html and "Maple Street Dental" in html
    with store.read() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM invoice WHERE source = 'reviewed'")
            ).scalar_one()
            == 0
        )
    batch_id = int(location.rstrip("/").rsplit("/", 1)[1])
    published = post(client, f"/admin/imports/{batch_id}/publish")
    assert "Published: 25 new" in page(client, published.headers["Location"])
    with store.read() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM invoice WHERE source = 'reviewed'")
            ).scalar_one()
            == 14
        )


def test_mark_paid_undo_and_bulk_from_the_admin_pages(app, client, world):
    admin_sign_in(app, client)
    invoice_id = world.invoices["A-100"]
    assert "A-100" in page(client, "/admin/invoices?q=A-100")
    form = {
        "how": "part",
        "amount": "40.00",
        "paid_on": "2025-06-01",
        "method": "cheque",
        "reference": "991",
    }
    preview = post(client, f"/admin/invoices/{invoice_id}/mark", form)
    assert "Balance after" in preview.get_data(as_text=True)
    response = post(
        client,
        f"/admin/invoices/{invoice_id}/mark",
        {**form, "step": "confirm", "settled_was": "0"},
    )
    html = page(client, response.headers["Location"])
    assert "Marked paid" in html and "$40.00" in html and "an office mark" in html
    with app.extensions["billfold"].store.read() as conn:
        assert conn.execute(
            text("SELECT status, balance_minor FROM invoice WHERE number = 'A-100'")
        ).one() == ("partially_paid", 6000)
    bad = post(
        client, f"/admin/invoices/{invoice_id}/mark", {"how": "part", "amount": "lots"}
    )
    assert bad.status_code == 422 and "is not an amount" in bad.get_data(as_text=True)
    store = app.extensions["billfold"].store
    with store.read() as conn:
        mark_id = conn.execute(
            text("SELECT id FROM paid_mark WHERE state = 'active'")
        ).scalar_one()
    post(client, f"/admin/marks/{mark_id}/undo")
    with store.read() as conn:
        assert (
            conn.execute(
                text("SELECT status FROM invoice WHERE number = 'A-100'")
            ).scalar_one()
            == "unpaid"
        )
    # Bulk amounts are payments received now (A1-200 has 50.00 open): check, confirm.
    lines = "A-100,,2025-06-02,card,\nA1-200,50.00,2025-06-03,,\nNOPE,,,\nB-400,1,not-a-date,,\n"
    checked = post(client, "/admin/marks/bulk", {"lines": lines})
    basis = dict(
        re.findall(r'name="(basis-\d+)" value="(\d+)"', checked.get_data(as_text=True))
    )
    assert basis == {"basis-1": "0", "basis-2": "15000"}
    result = post(
        client, "/admin/marks/bulk", {"lines": lines, "step": "confirm", **basis}
    )
    html = result.get_data(as_text=True)
    assert (
        html.count("marked paid") == 2
        and "0 invoices are numbered NOPE" in html
        and "not a date" in html
    )


def test_customer_says_paid_and_the_office_confirms(app, client, world):
    sign_in(app, client, "a_parent")
    invoice_id = world.invoices["A-100"]
    detail = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "I've already paid this" in detail
    response = client.post(
        f"/invoices/{invoice_id}/paid",
        data={
            "csrf_token": csrf_from(detail),
            "amount": "100.00",
            "paid_on": "2025-06-01",
            "reference": "TX-77",
        },
    )
    after = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "We will update this invoice once the payment is confirmed" in after
    assert "Unpaid" in after or "Overdue" in after
    assert (
        client.post(
            f"/invoices/{world.invoices['B-400']}/paid",
            data={
                "csrf_token": csrf_from(detail),
                "amount": "1",
                "paid_on": "2025-06-01",
            },
        ).status_code
        == 404
    )

    office = app.test_client()
    admin_sign_in(app, office)
    queue = page(office, "/admin/claims")
    assert "TX-77" in queue and "a_parent@example.com" in queue
    store = app.extensions["billfold"].store
    with store.read() as conn:
        claim_id = conn.execute(text("SELECT id FROM payment_claim")).scalar_one()
    post(office, f"/admin/claims/{claim_id}/confirm")
    assert "Paid" in client.get(f"/invoices/{invoice_id}").get_data(as_text=True)


@pytest.mark.parametrize("action", ["keep_mark", "accept_feed"])
def test_conflicts_queue_resolves_with_one_action(
    app, client, world, settings, tmp_path, action
):
    from tests.helpers import run_import

    admin_sign_in(app, client)
    store = app.extensions["billfold"].store
    header = header_without_lines()
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "a.csv",
            header,
            [
                invoice_row(
                    "K1",
                    "Konflikt",
                    "100.00",
                    balance_due="50.00",
                    amount_paid="50.00",
                    updated_at="2025-06-01T00:00:00Z",
                )
            ],
        ),
        source="books",
    )
    with store.read() as conn:
        invoice_id = conn.execute(
            text("SELECT id FROM invoice WHERE number = 'K1'")
        ).scalar_one()
    post(
        client,
        f"/admin/invoices/{invoice_id}/mark",
        {"how": "full", "paid_on": "2025-06-02"},
    )
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "b.csv",
            header,
            [
                invoice_row(
                    "K1",
                    "Konflikt",
                    "100.00",
                    balance_due="100.00",
                    amount_paid="0.00",
                    updated_at="2025-06-10T00:00:00Z",
                )
            ],
        ),
        source="books",
    )
    html = page(client, "/admin/conflicts")
    assert (
        "K1" in html
        and "The billing system shows $0.00 settled on a total of $100.00" in html
    )
    with store.read() as conn:
        conflict_id = conn.execute(text("SELECT id FROM conflict")).scalar_one()
    post(client, f"/admin/conflicts/{conflict_id}/resolve", {"action": action})
    with store.read() as conn:
        status = conn.execute(
            text("SELECT status FROM invoice WHERE id = :i"), {"i": invoice_id}
        ).scalar_one()
    assert status == ("paid" if action == "keep_mark" else "unpaid")
