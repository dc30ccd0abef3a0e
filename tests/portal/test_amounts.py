"""Amounts typed into the portal's forms, and mark paid that changes something.

Issue 11, items 1 and 2. The mark-paid form, bulk marks and the customer's "I've paid"
read amounts as people of ``[business] locale`` write them (``8,50`` stored 850.00
before); "partly paid" takes the payment received now and shows the balance it leaves
before it is recorded; a mark that would change nothing is refused, saying why. Every
refusal comes back as the form, as typed, with the reason: never an error page.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape

import pytest
from sqlalchemy import text

from portal import create_app
from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in, page, post


@pytest.fixture
def german(portal_settings, store, world):  # type: ignore[no-untyped-def]
    """The portal of a business whose locale is de_DE."""
    settings = replace(
        portal_settings, business=replace(portal_settings.business, locale="de_DE")
    )
    app = create_app(settings, store=store)
    app.config["TESTING"] = True
    yield app
    app.extensions["billfold"].mailer.flush()


def marks(app) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    with app.extensions["billfold"].store.read() as conn:
        return [
            (r.number, r.amount_minor)
            for r in conn.execute(
                text(
                    "SELECT number, amount_minor FROM paid_mark JOIN invoice "
                    "ON invoice.id = paid_mark.invoice_id WHERE state = 'active' "
                    "ORDER BY paid_mark.id"
                )
            )
        ]


def balance(app, number: str) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["billfold"].store.read() as conn:
        return conn.execute(
            text("SELECT balance_minor FROM invoice WHERE number = :n"), {"n": number}
        ).scalar_one()


def field_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no {name} field on the page"
    return match.group(1)


def preview_then_confirm(client, invoice_id: int, amount: str):  # type: ignore[no-untyped-def]
    form = {"how": "part", "amount": amount, "paid_on": "2025-06-01"}
    preview = post(client, f"/admin/invoices/{invoice_id}/mark", form)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    html = preview.get_data(as_text=True)
    form |= {"step": "confirm", "settled_was": field_value(html, "settled_was")}
    return html, post(client, f"/admin/invoices/{invoice_id}/mark", form)


def test_8_50_in_en_us_is_refused_with_what_it_could_mean_and_kept_in_the_field(
    app, client, world
):
    admin_sign_in(app, client)
    response = post(
        client,
        f"/admin/invoices/{world.invoices['A-100']}/mark",
        {"how": "part", "amount": "8,50", "paid_on": "2025-06-01"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "could mean 8.50 or 850.00. Did you mean 8.50?" in html
    assert field_value(html, "amount") == "8,50"
    assert 'value="part" id="how-part" checked' in html
    assert marks(app) == [] and balance(app, "A-100") == 10000


def test_8_50_in_de_de_is_eight_fifty_and_the_preview_shows_the_balance_it_leaves(
    german, world
):
    client = german.test_client()
    admin_sign_in(german, client)
    html, confirmed = preview_then_confirm(client, world.invoices["A-100"], "8,50")
    assert re.search(r'id="balance-now">100,00\xa0\$<', html)
    assert re.search(r'id="received-now">8,50\xa0\$<', html)
    assert re.search(r'id="balance-after">91,50\xa0\$<', html)
    assert confirmed.status_code == 302
    assert marks(german) == [("A-100", 850)] and balance(german, "A-100") == 9150
    shown = page(client, confirmed.headers["Location"])
    assert "Marked paid: 8,50\xa0$ received, balance now 91,50\xa0$." in shown


def test_the_preview_records_nothing(app, client, world):
    admin_sign_in(app, client)
    post(
        client,
        f"/admin/invoices/{world.invoices['A-100']}/mark",
        {"how": "part", "amount": "40.00", "paid_on": "2025-06-01"},
    )
    assert marks(app) == []


def test_partly_paid_at_or_below_what_is_settled_no_longer_says_marked_and_changes_nothing(
    app, client, world
):
    # A1-200: 200.00, the feed shows 150.00 paid. Typing what was "received so far"
    # (100.00) recorded a mark, said "Marked paid. Customers see it now." and changed
    # nothing. The amount is now the payment received now: 100.00 is more than is open.
    admin_sign_in(app, client)
    invoice_id = world.invoices["A1-200"]
    response = post(
        client,
        f"/admin/invoices/{invoice_id}/mark",
        {"how": "part", "amount": "100.00", "paid_on": "2025-06-01"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "Marked paid" not in html
    assert "$100.00 is more than the open balance of invoice A1-200, $50.00" in html
    assert marks(app) == [] and balance(app, "A1-200") == 5000
    preview, confirmed = preview_then_confirm(client, invoice_id, "50.00")
    assert re.search(r'id="balance-after">\$0.00<', preview)
    assert "Marked paid. Customers see it now." in page(
        client, confirmed.headers["Location"]
    )
    assert marks(app) == [("A1-200", 20000)] and balance(app, "A1-200") == 0


def test_a_mark_on_an_invoice_with_nothing_open_is_refused_saying_why(
    app, client, world
):
    admin_sign_in(app, client)
    invoice_id = world.invoices["A2-300"]  # paid in full by the feed
    assert "Nothing is open on this invoice" in page(
        client, f"/admin/invoices/{invoice_id}"
    )
    response = post(
        client,
        f"/admin/invoices/{invoice_id}/mark",
        {"how": "full", "paid_on": "2025-06-01"},
    )
    assert response.status_code == 422
    assert (
        "already paid in full ($300.00), so marking it paid would change nothing"
        in (response.get_data(as_text=True))
    )
    assert marks(app) == []


def test_a_second_confirmation_of_the_same_payment_is_refused(app, client, world):
    admin_sign_in(app, client)
    invoice_id = world.invoices["A-100"]
    form = {"how": "part", "amount": "40.00", "paid_on": "2025-06-01"}
    form |= {"step": "confirm", "settled_was": "0"}
    assert post(client, f"/admin/invoices/{invoice_id}/mark", form).status_code == 302
    again = post(client, f"/admin/invoices/{invoice_id}/mark", form)
    assert again.status_code == 422
    assert "changed since you checked it: $0.00 was settled then, $40.00 is now" in (
        again.get_data(as_text=True)
    )
    assert marks(app) == [("A-100", 4000)] and balance(app, "A-100") == 6000


def test_the_amount_belongs_to_partly_paid_only(app, client, world):
    admin_sign_in(app, client)
    response = post(
        client,
        f"/admin/invoices/{world.invoices['A-100']}/mark",
        {"how": "full", "amount": "lots", "paid_on": "2025-06-01"},
    )
    assert response.status_code == 302
    assert marks(app) == [("A-100", 10000)]


@pytest.mark.parametrize(
    "amount", ["0", "-5", "1e999999", "NaN", "8.505", "99999999999999999", ""]
)
def test_impossible_amounts_are_refused_with_a_message_never_a_500(
    app, client, world, amount
):
    admin_sign_in(app, client)
    response = post(
        client,
        f"/admin/invoices/{world.invoices['A-100']}/mark",
        {"how": "part", "amount": amount, "paid_on": "2025-06-01"},
    )
    assert response.status_code == 422
    assert 'class="flash flash-error" role="alert" id="mark-error"' in (
        response.get_data(as_text=True)
    )
    assert marks(app) == []


def test_bulk_marks_read_the_locale_and_refuse_an_amount_split_at_its_comma(
    german, world
):
    client = german.test_client()
    admin_sign_in(german, client)
    lines = (
        "A-100,8,50,2025-06-01\n"  # split at the decimal comma: refused, never 8
        'A-100,"8,50",2025-06-01,Überweisung\n'
        "A-100;1,50;2025-06-02;bar\n"
        "A1-200;50,01;2025-06-02\n"  # more than the 50,00 open
    )
    checked = post(client, "/admin/marks/bulk", {"lines": lines})
    html = unescape(checked.get_data(as_text=True))
    assert 'put it in double quotes ("8,50")' in html
    assert "balance 100,00\xa0$ → 91,50\xa0$" in html
    assert "balance 91,50\xa0$ → 90,00\xa0$" in html
    assert "50,01\xa0$ is more than the open balance of invoice A1-200" in html
    assert marks(german) == []
    basis = dict(re.findall(r'name="(basis-\d+)" value="(\d+)"', html))
    assert basis == {"basis-2": "0", "basis-3": "850"}
    post(client, "/admin/marks/bulk", {"lines": lines, "step": "confirm", **basis})
    assert marks(german) == [("A-100", 1000)] and balance(german, "A-100") == 9000


def test_bulk_marks_in_en_us_refuse_8_50_and_a_resubmission_records_nothing(
    app, client, world
):
    admin_sign_in(app, client)
    lines = 'A-100,"8,50",2025-06-01\nA1-200,50.00,2025-06-01\n'
    html = post(client, "/admin/marks/bulk", {"lines": lines}).get_data(as_text=True)
    assert "Did you mean 8.50?" in html
    basis = dict(re.findall(r'name="(basis-\d+)" value="(\d+)"', html))
    assert basis == {"basis-2": "15000"}
    form = {"lines": lines, "step": "confirm", **basis}
    first = post(client, "/admin/marks/bulk", form).get_data(as_text=True)
    assert "marked paid: $50.00 received; balance $50.00 → $0.00" in first
    again = post(client, "/admin/marks/bulk", form).get_data(as_text=True)
    assert "not marked: invoice A1-200 is already paid in full" in again
    assert marks(app) == [("A1-200", 20000)]


def test_i_ve_paid_reads_the_locale_refuses_more_than_the_balance_and_keeps_the_value(
    app, german, world
):
    invoice_id = world.invoices["A1-200"]  # 50.00 due
    customer = app.test_client()
    sign_in(app, customer, "a_parent")
    detail = customer.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert field_value(detail, "amount") == "50.00"
    for amount, says in (
        ("8,50", "Did you mean 8.50?"),
        ("50.01", "more than the balance due, $50.00"),
        ("0", "is zero"),
    ):
        response = customer.post(
            f"/invoices/{invoice_id}/paid",
            data={"csrf_token": csrf_from(detail), "amount": amount,
                  "paid_on": "2025-06-01", "reference": "TX-9"},
        )  # fmt: skip
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and says in html, amount
        assert field_value(html, "amount") == amount
        assert field_value(html, "reference") == "TX-9"
    german_customer = german.test_client()
    sign_in(german, german_customer, "a_parent")
    detail = german_customer.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert field_value(detail, "amount") == "50,00"
    response = german_customer.post(
        f"/invoices/{invoice_id}/paid",
        data={
            "csrf_token": csrf_from(detail),
            "amount": "8,50",
            "paid_on": "2025-06-01",
        },
    )
    assert response.status_code == 302
    with german.extensions["billfold"].store.read() as conn:
        assert conn.execute(
            text("SELECT amount_minor FROM payment_claim")
        ).scalars().all() == [850]


def test_money_is_shown_in_the_business_s_locale(app, german, client, world):
    admin_sign_in(app, client)
    assert "$100.00" in page(client, f"/admin/invoices/{world.invoices['A-100']}")
    office = german.test_client()
    admin_sign_in(german, office)
    html = page(office, f"/admin/invoices/{world.invoices['A-100']}")
    assert "100,00\xa0$" in html and "$100.00" not in html
