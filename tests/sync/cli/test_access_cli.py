"""``billfold enable/disable/invite/revoke`` share sync.access with the admin pages:
the same changes, the same audit events (actor ``cli``)."""

from __future__ import annotations

from sqlalchemy import select, text

from schemas.tables import AUDIT_EVENTS
from sync.access import contacts, grants, links
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv
from tests.sync.cli.test_cli import cli  # noqa: F401  (the fixture)


def test_enable_invite_revoke_from_the_command_line(cli, store, settings, tmp_path):  # noqa: F811
    run_import(
        store, settings,
        write_csv(tmp_path / "a.csv", header_without_lines(),
                  [invoice_row("C1", "Cli Co", "10.00", customer_id="CLI")]),
        source="books",
    )  # fmt: skip
    code, out = cli("invite", "Pat@Example.com", "--account", "Cli Co", "--no-email")
    assert code == 0 and "/sign-in/" in out
    assert cli("enable", "CLI")[1].startswith("portal enabled for Cli Co (CLI)")
    with store.read() as conn:
        pat = contacts.find_contact(conn, "pat@example.com")
        assert grants.may_sign_in(conn, pat)
        token = out.strip().rsplit("/", 1)[1]
        assert links.inspect_link(conn, token).status == "valid"
    assert cli("revoke", "pat@example.com")[0] == 0
    assert cli("disable", "Cli Co")[0] == 0
    with store.read() as conn:
        assert links.inspect_link(conn, token).status == "expired"
        assert not grants.may_sign_in(
            conn, contacts.find_contact(conn, "pat@example.com")
        )
        enabled = conn.execute(text("SELECT portal_enabled FROM account")).scalar_one()
        E = AUDIT_EVENTS
        actions = conn.execute(select(E.c.actor, E.c.action).order_by(E.c.id)).all()
    assert not enabled
    assert [tuple(a) for a in actions] == [
        ("cli", "invite"), ("cli", "portal_enabled"), ("cli", "revoke"),
        ("cli", "portal_disabled"),
    ]  # fmt: skip
