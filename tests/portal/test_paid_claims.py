"""A customer's "I've paid": one claim waits per invoice and contact, dates in a sane window."""

from __future__ import annotations

import html
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text

from schemas.tables import PaymentClaim, utcnow
from sync.errors import UsageError
from sync.ledger.marks import claim_payment
from tests.portal.conftest import csrf_from, sign_in

CL = PaymentClaim.__table__


def _claims(app) -> list[tuple]:
    with app.extensions["billfold"].store.read() as conn:
        rows = conn.execute(
            select(CL.c.invoice_id, CL.c.contact_id, CL.c.paid_on, CL.c.state)
        )
        return [tuple(r) for r in rows]


def _say_paid(client, invoice_id: int, paid_on: str, amount: str = "40.00") -> str:
    """Post the "I've paid" form from the invoice page; return the page it leads to
    (the invoice page once recorded, or the form again, with the reason, when refused)."""
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    response = client.post(
        f"/invoices/{invoice_id}/paid",
        data={"csrf_token": csrf_from(page), "amount": amount, "paid_on": paid_on},
    )
    if response.status_code == 422:
        return html.unescape(response.get_data(as_text=True))
    assert response.status_code == 302, response.get_data(as_text=True)
    return html.unescape(
        client.get(response.headers["Location"]).get_data(as_text=True)
    )


def test_a_repeated_ive_paid_is_refused_and_the_waiting_claim_is_shown(
    app, client, world
):
    sign_in(app, client, "a_parent")
    invoice_id = world.invoices["A-100"]
    first = _say_paid(client, invoice_id, "2025-06-01")
    assert "We will check the payment" in first
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    again = client.post(  # the same form again: a double click or a script
        f"/invoices/{invoice_id}/paid",
        data={
            "csrf_token": csrf_from(page),
            "amount": "40.00",
            "paid_on": "2025-06-02",
        },
    )
    assert again.status_code == 422  # refused: the form comes back with the reason
    shown = html.unescape(again.get_data(as_text=True))
    assert "you already told us on" in shown and "on 01 Jun 2025" in shown
    assert "you paid $40.00 on 01 Jun 2025" in shown  # the claim on record is shown
    for _ in range(5):
        client.post(
            f"/invoices/{invoice_id}/paid",
            data={
                "csrf_token": csrf_from(page),
                "amount": "1",
                "paid_on": "2025-06-03",
            },
        )
    contact = world.contacts["a_parent"]
    assert _claims(app) == [(invoice_id, contact, date(2025, 6, 1), "pending")]

    # Another contact of the same account has their own claim; once the office has
    # decided, the same contact may tell us about a later payment.
    other = app.test_client()
    sign_in(app, other, "a1_only")
    assert "We will check" in _say_paid(other, world.invoices["A1-200"], "2025-06-04")
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        conn.execute(text("UPDATE payment_claim SET state = 'rejected'"))
    assert "We will check" in _say_paid(client, invoice_id, "2025-06-05")
    assert len(_claims(app)) == 3


@pytest.mark.parametrize(
    ("paid_on", "why"),
    [
        ("0001-01-01", "too early"),
        ("1999-12-31", "too early"),
        ("2024-09-01", "too early"),  # half a year before the invoice (2025-03-01)
        ("in two days", "in the future"),  # computed when the test runs, not collected
        ("9999-12-31", "in the future"),
    ],
)
def test_ive_paid_dates_outside_a_sane_window_are_refused(
    app, client, world, paid_on, why
):
    if paid_on == "in two days":
        paid_on = (utcnow().date() + timedelta(days=2)).isoformat()
    sign_in(app, client, "a_parent")
    shown = _say_paid(client, world.invoices["A-100"], paid_on)
    assert "the date paid must be between" in shown and why in shown, shown
    assert _claims(app) == []


def test_ive_paid_accepts_the_window_edges(app, client, world):
    sign_in(app, client, "a_parent")
    page = client.get(f"/invoices/{world.invoices['A-100']}").get_data(as_text=True)
    earliest = "2024-09-02"  # the invoice date (2025-03-01) less 180 days
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()  # today, east of UTC
    assert f'min="{earliest}" max="{tomorrow}"' in page
    assert "We will check" in _say_paid(client, world.invoices["A-100"], earliest)
    assert "We will check" in _say_paid(client, world.invoices["A1-200"], tomorrow)


def test_claims_sent_at_once_record_one(app, world):
    store = app.extensions["billfold"].store
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def claim() -> None:
        barrier.wait()
        try:
            with store.write(ledger=False) as conn:
                claim_payment(
                    conn, world.invoices["A-100"], world.contacts["a_parent"],
                    amount_minor=4000, paid_on=date(2025, 6, 1), reference=None,
                    note=None,
                )  # fmt: skip
            outcomes.append("recorded")
        except UsageError:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["recorded", "refused", "refused", "refused"]
    assert len(_claims(app)) == 1
