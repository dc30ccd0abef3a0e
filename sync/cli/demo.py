"""``billfold demo``: the bundled sample exports in the embedded store, and a portal.

Imports a realistic ledger (a plumbing business's customers, one a property manager
with several sites), opens the portal to every account, creates a demo contact who can
see the property manager and all its sites, and prints a one-time sign-in link. While
it serves, every new sign-in or invitation link is printed on its console too (the
demo has no mail server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import update

from schemas.tables import ACCOUNTS
from sync.access import contacts, grants, links
from sync.config import Settings
from sync.engine.pipeline import import_file
from sync.ledger.accounts import resolve_account
from sync.ledger.balances import balances
from sync.log import logger
from sync.store import Store

# The demo's ledger ships inside the package (a wheel has no sample_exports/): copies
# of two bundled samples, kept byte for byte in step by tests/test_packaging.py.
DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_SOURCE = "demo"
DEMO_FILES = ("harbor_ledger.csv", "multi_site.csv")
DEMO_CONTACT = "demo@example.com"
DEMO_ACCOUNT = "PM1"
DEMO_BUSINESS = {
    "BILLFOLD_BUSINESS_NAME": "Harbor Plumbing & Heating",
    "BILLFOLD_BUSINESS_EMAIL": "office@harborplumbing.example",
    "BILLFOLD_BUSINESS_PHONE": "(207) 555-0142",
    "BILLFOLD_BUSINESS_ADDRESS": "12 Wharf Road, Portland, ME 04101",
}


def run_demo(
    store: Store,
    settings: Settings,
    say: Callable[[str], None],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> dict[str, str]:
    """Import the demo ledger, print balances and a sign-in link; return env for serving."""
    for name in DEMO_FILES:
        result = import_file(store, settings, DEMO_DATA / name, source=DEMO_SOURCE)
        say(
            f"{name}: {result.status} (created {result.created}, updated "
            f"{result.updated}, unchanged {result.unchanged}, rejected "
            f"{len(result.rejected)})"
        )
    table = ACCOUNTS
    with store.write(ledger=False) as conn:
        conn.execute(
            update(table)
            .where(table.c.source == DEMO_SOURCE)
            .values(portal_enabled=True)
        )
        contact_id = contacts.ensure_contact(conn, DEMO_CONTACT, "Dana Demo")
        account = resolve_account(conn, DEMO_ACCOUNT, DEMO_SOURCE)
        grants.grant_access(conn, contact_id, account.id, "billing")
        token = links.issue_link(
            conn,
            "contact",
            contact_id,
            DEMO_CONTACT,
            settings.portal.invite_link_hours * 60,
        )
    with store.read() as conn:
        rows = balances(conn)
    say("")
    say(f"{'ACCOUNT':32} {'CCY':4} {'BILLED':>10} {'PAID':>10} {'DUE':>10} {'NET':>10}")
    for r in rows:
        say(
            f"{r['account'][:32]:32} {r['currency']:4} {r['total_billed'] or '-':>10} "
            f"{r['total_paid'] or '-':>10} {r['balance_due'] or '-':>10} "
            f"{r['net_balance'] or '-':>10}"
        )
    base = settings.base_url
    env = {}
    if base == "http://127.0.0.1:8000" and (host, port) != ("127.0.0.1", 8000):
        base = f"http://{host}:{port}"
        env["BILLFOLD_BASE_URL"] = base
    if settings.business.name == "Your business":
        env.update(DEMO_BUSINESS)
    say("")
    say(f"Data directory: {settings.data_dir}")
    say(f"Demo contact {DEMO_CONTACT} sees {account.name} and its sites. Sign in with:")
    say(f"  {links.link_url(base, token)}")
    say("(the link works once; `billfold login-link demo@example.com` prints another)")
    return env


class _LinkEcho(logging.Handler):
    """Says each link an unsent mail carried (``event=mail.not_sent``)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        super().__init__()
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "billfold_fields", None) or {}
        if getattr(record, "billfold_event", None) == "mail.not_sent" and fields.get(
            "link"
        ):
            self.say(f"Sign-in link for {fields.get('to')}: {fields['link']}")


def echo_new_links(say: Callable[[str], None]) -> None:
    """Print every sign-in and invitation link the portal makes from now on (the
    portal's workers are forked from this process and keep the handler)."""
    logger.addHandler(_LinkEcho(say))
