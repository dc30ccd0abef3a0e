"""A customer page costs a fixed, small number of database round trips.

Every statement a request sends is counted (a SQLAlchemy ``before_cursor_execute``
listener on the store's engine). The counts are the budget: a change that adds a query
to every request fails here and has to say why.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from tests.portal.conftest import sign_in


class Statements:
    """The SQL statements sent while counting is on."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.on = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.on:
            self.sent.append(statement)


@pytest.fixture
def statements(store) -> Iterator[Statements]:  # type: ignore[no-untyped-def]
    counter = Statements()
    event.listen(store.engine, "before_cursor_execute", counter)
    yield counter
    event.remove(store.engine, "before_cursor_execute", counter)


def _count(client, statements: Statements, path: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The statements one GET of *path* sends (transaction control not counted)."""
    client.get(path)  # warm, and the session's last-seen time is fresh: no touch
    statements.sent.clear()
    statements.on = True
    response = client.get(path)
    statements.on = False
    assert response.status_code == 200, path
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SET ")
    return [s for s in statements.sent if not s.lstrip().upper().startswith(control)]


# path -> statements allowed: the visit (session, contact, scope and, on the home page,
# freshness) is ONE; the invoice list adds one (its page carries the total); the home
# page its figures; the invoice page its record, children and the audit event.
BUDGET = {
    "/invoices": 2,
    "/invoices?status=overdue&sort=due&q=A": 2,
    "/": 8,
    "/invoices/{invoice}": 10,
}


@pytest.mark.parametrize("path", list(BUDGET))
def test_a_customer_page_sends_no_more_statements_than_its_budget(
    app, client, world, statements, path
):  # type: ignore[no-untyped-def]
    sign_in(app, client, "a_parent")  # a parent account with two sites below it
    url = path.format(invoice=world.invoices["A-100"])
    sent = _count(client, statements, url)
    listing = "\n".join(" ".join(s.split())[:120] for s in sent)
    assert len(sent) <= BUDGET[path], f"{url} sent {len(sent)}:\n{listing}"


def test_the_visit_is_one_statement_that_reads_the_session_and_the_scope(
    app, client, world, statements
):  # type: ignore[no-untyped-def]
    sign_in(app, client, "a_parent")
    sent = _count(client, statements, "/invoices")
    first = sent[0]
    for table in ("portal_session", "contact", "access_grant", "account"):
        assert table in first, table
    page = client.get("/invoices").get_data(as_text=True)
    for number in ("A-100", "A1-200"):  # the parent's own invoice and a site's
        assert number in page


def test_a_page_past_the_end_still_knows_how_many_pages_there_are(app, client):  # type: ignore[no-untyped-def]
    sign_in(app, client, "a_parent")
    response = client.get("/invoices?page=999")
    assert response.status_code == 302
    assert "page=1" in response.headers["Location"]


def test_a_revoked_session_is_refused_on_the_next_request_on_every_worker(
    app, client, portal_settings, store
):  # type: ignore[no-untyped-def]
    """Two workers (two apps on one store): nothing about a visitor is cached."""
    from portal import create_app
    from sync.access import contacts

    other = create_app(portal_settings, store=store)
    other.config["TESTING"] = True
    sign_in(app, client, "a_parent")
    cookie = client.get_cookie("billfold_session").value
    second = other.test_client()
    second.set_cookie("billfold_session", cookie)
    assert client.get("/invoices").status_code == 200
    assert second.get("/invoices").status_code == 200
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "a_parent@example.com")
        contacts.revoke_contact(conn, contact["id"])
    assert client.get("/invoices").status_code == 302
    assert second.get("/invoices").status_code == 302
    other.extensions["billfold"].mailer.flush()


def test_the_visit_sees_exactly_the_accounts_the_grant_rules_give(store, world):  # type: ignore[no-untyped-def]
    """The one-statement visit and ``grants.visible_accounts`` agree for every contact,
    also once a site is held for its names and a parent's portal is closed."""
    from sqlalchemy import select, update

    from schemas.tables import ACCOUNTS
    from sync.access import grants, sessions, visits

    def agree() -> None:
        with store.write(ledger=False) as conn:
            for name, contact_id in world.contacts.items():
                token = sessions.start_session(conn, "contact", contact_id, 1)
                visit = visits.find_visit(conn, token, 60)
                expected = grants.visible_accounts(conn, contact_id)
                if visit is None:  # a revoked contact: no visit at all
                    assert name == "revoked_user"
                    continue
                assert visit.roles == expected, name

    agree()
    parent = world.accounts["A"]
    with store.read() as conn:
        held, other = sorted(
            conn.execute(
                select(ACCOUNTS.c.id).where(ACCOUNTS.c.parent_id == parent)
            ).scalars()
        )
    with store.write(ledger=False) as conn:  # a site held for its names
        conn.execute(
            update(ACCOUNTS)
            .where(ACCOUNTS.c.id == held)
            .values(names_to_confirm='["Elm Court", "Elm Ct"]')
        )
    agree()
    with store.write(ledger=False) as conn:  # the parent closed, one site opened
        conn.execute(
            update(ACCOUNTS).where(ACCOUNTS.c.id == parent).values(portal_enabled=False)
        )
        conn.execute(
            update(ACCOUNTS).where(ACCOUNTS.c.id == other).values(portal_enabled=True)
        )
    agree()
