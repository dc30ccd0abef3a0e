"""The Unmatched documents page: what the pipeline's warning promises is there."""

from __future__ import annotations

from sqlalchemy import select

from schemas.tables import DOCUMENTS
from sync.engine.pipeline import import_file
from tests.portal.conftest import csrf_from
from tests.portal.test_admin import admin_sign_in, page

D = DOCUMENTS


def _scan(app, tmp_path, name: str) -> int:  # type: ignore[no-untyped-def]
    billfold = app.extensions["billfold"]
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4\n% <script>alert(1)</script>\n%%EOF\n")
    result = import_file(billfold.store, billfold.settings, path, source="scans")
    assert result.status == "applied" and "unmatched documents" in result.warnings[0]
    with billfold.store.read() as conn:
        return conn.execute(
            select(D.c.id).where(D.c.batch_id == result.batch_id)
        ).scalar_one()


def test_a_document_nothing_linked_waits_on_the_page_and_the_office_links_it(
    app, client, tmp_path
):
    document_id = _scan(app, tmp_path, "scan <img src=x onerror=alert(7)>.pdf")
    admin_sign_in(app, client)
    html = page(client, "/admin/documents")
    assert "scan &lt;img src=x onerror=alert(7)&gt;.pdf" in html and "<img" not in html
    assert "no invoice or credit note numbered" in html  # why it waits
    assert 'href="/admin/documents"' in page(client, "/admin/")  # in the nav

    form = {"csrf_token": csrf_from(html), "account": "A", "record": "A-100"}
    done = client.post(f"/admin/documents/{document_id}/link", data=form)
    assert done.status_code == 302
    assert "is linked" in page(client, "/admin/documents")
    with app.extensions["billfold"].store.read() as conn:
        linked = conn.execute(select(D).where(D.c.id == document_id)).one()
    assert (linked.kind, linked.invoice_id is not None) == ("invoice_copy", True)
    assert "onerror=alert(7)" not in page(client, "/admin/documents")


def test_linking_to_an_account_that_is_not_there_says_so_and_changes_nothing(
    app, client, tmp_path
):
    document_id = _scan(app, tmp_path, "receipt.pdf")
    admin_sign_in(app, client)
    csrf = csrf_from(page(client, "/admin/documents"))
    form = {"csrf_token": csrf, "account": "Nobody Ltd", "record": ""}
    client.post(f"/admin/documents/{document_id}/link", data=form)
    html = page(client, "/admin/documents")
    assert "no account &#39;Nobody Ltd&#39;" in html and "receipt.pdf" in html
    without_csrf = client.post(
        f"/admin/documents/{document_id}/link", data={"account": "A"}
    )
    assert without_csrf.status_code in (400, 403)
    with app.extensions["billfold"].store.read() as conn:
        assert (
            conn.execute(
                select(D.c.account_id).where(D.c.id == document_id)
            ).scalar_one()
            is None
        )
