"""``billfold demo``: the bundled sample exports in the embedded store, and a portal.

Imports a realistic ledger (a plumbing business's customers, one a property manager
with several sites, across two export layouts), the property manager's job sheet and a
payment receipt (PDFs drawn here, filed by a documents manifest), opens the portal to
every account, creates a demo contact who can
see the property manager and all its sites, and prints a one-time sign-in link. While
it serves, every new sign-in or invitation link is printed on its console too (the
demo has no mail server).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from schemas.tables import ACCOUNTS
from sync.access import contacts, grants, links
from sync.config import BusinessSettings, Settings
from sync.engine.pipeline import import_file
from sync.ledger.accounts import resolve_account
from sync.ledger.balances import balances
from sync.log import logger
from sync.store import Store

# The demo's ledger ships inside the package (a wheel has no sample_exports/): copies
# of two bundled samples, kept byte for byte in step by tests/test_packaging.py.
DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
DEMO_SOURCE = "demo"
DEMO_FILES = ("harbor_ledger.csv", "multi_site.csv", "northgate_activity.csv")
DEMO_CONTACT = "demo@example.com"
DEMO_ACCOUNT = "PM1"
DEMO_BUSINESS = {
    "BILLFOLD_BUSINESS_NAME": "Harbor Plumbing & Heating",
    "BILLFOLD_BUSINESS_EMAIL": "office@harborplumbing.example",
    "BILLFOLD_BUSINESS_PHONE": "(207) 555-0142",
    "BILLFOLD_BUSINESS_ADDRESS": "12 Wharf Road, Portland, ME 04101",
    "BILLFOLD_BUSINESS_REMIT_TO": "Harbor Plumbing & Heating, PO Box 4410, Portland, ME 04112",
    "BILLFOLD_BUSINESS_BANK_DETAILS": "Casco Bay Bank, routing 011201539, account 4410 2207",
}
# (file name, what it is, account, record, its lines): the demo customer's documents.
DEMO_DOCUMENTS = (
    ("jobsheet-N-507.pdf", "job_sheet", "PM1:12 Elm Street", "N-507",
     ("Job sheet - 12 Elm Street, unit 3", "6 May 2025, technician: M. Ortiz",
      "Replaced 4 shut-off valves under the kitchen and bathroom sinks.",
      "Tested for leaks at 60 psi: none. Water restored 11:40.")),
    ("receipt-PAY-N507.pdf", "receipt", "PM1:12 Elm Street", "N-507",
     ("Payment receipt", "Received 20 May 2025: check 10452, $544.00",
      "Applied to invoice N-507 in full. Thank you.")),
)  # fmt: skip


def demo_env(store: Store, settings: Settings) -> dict[str, str]:
    """The demo business's name and details, when the store holds the demo's data and
    the configuration names no business of its own (so no page says "Your business")."""
    if settings.business.name != BusinessSettings().name:
        return {}
    table = ACCOUNTS
    with store.read() as conn:
        has_demo = conn.execute(
            select(table.c.id).where(table.c.source == DEMO_SOURCE).limit(1)
        ).first()
    return dict(DEMO_BUSINESS) if has_demo else {}


def _demo_documents(folder: Path) -> list[Path]:
    """Draw the demo's documents and their manifest into *folder*; return the paths."""
    from reportlab.lib.pagesizes import LETTER
    from reportlab.pdfgen.canvas import Canvas

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, _, _, _, lines in DEMO_DOCUMENTS:
        canvas = Canvas(str(folder / name), pagesize=LETTER, invariant=True)
        canvas.setFont("Helvetica-Bold", 16)
        canvas.drawString(72, 720, "Harbor Plumbing & Heating")
        for i, line in enumerate(lines):
            canvas.setFont("Helvetica-Bold" if i == 0 else "Helvetica", 12)
            canvas.drawString(72, 680 - 22 * i, line)
        canvas.save()
        paths.append(folder / name)
    manifest = folder / "documents-manifest.csv"
    manifest.write_text(
        "file,account,record,kind\n"
        + "".join(f"{n},{a},{r},{k}\n" for n, k, a, r, _ in DEMO_DOCUMENTS),
        encoding="utf-8",
    )
    return [*paths, manifest]


def run_demo(
    store: Store,
    settings: Settings,
    say: Callable[[str], None],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> dict[str, str]:
    """Import the demo ledger, print balances and a sign-in link; return env for serving."""
    files = [DEMO_DATA / name for name in DEMO_FILES]
    files += _demo_documents(Path(settings.data_dir) / "demo-documents")
    for path in files:
        result = import_file(store, settings, path, source=DEMO_SOURCE)
        say(
            f"{path.name}: {result.status} (created {result.created}, updated "
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
    env.update(demo_env(store, settings))
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
