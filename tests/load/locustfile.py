"""What one customer contact does in the portal, for locust (run by ``python -m tests.load``).

Each simulated user is one contact of one account. A visit starts with the real sign-in:
ask for a link on /sign-in, wait for the email to reach the harness's SMTP sink, open
the link (the confirm page) and press Sign in. Then the contact browses: home, the
invoice list (plain, filtered, searched, later pages), invoices, invoice PDFs, the
statement page, a 12-month statement PDF or CSV, payments, the invoices CSV and now and
then a ZIP of several PDFs; after about twenty pages they sign out and the next visit
signs in again. Every user paces itself to ``LOAD_USER_RATE`` requests per second.
With ``"tour": true`` in the plan (the harness's ``--quick`` check) each user walks every
part in turn instead, starting at a different part, so a short run reaches them all.

The plan (contacts, their invoice ids, the statement period, the mail folder) is the
JSON file named by ``LOAD_PLAN``, written by the harness.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from pathlib import Path
from urllib.parse import urlencode

from locust import FastHttpUser, constant_throughput, events, task

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text())
MAILDIR = Path(PLAN["maildir"])
USER_RATE = float(os.environ.get("LOAD_USER_RATE", "0.5"))
PAGES_PER_VISIT = int(os.environ.get("LOAD_PAGES_PER_VISIT", "20"))
MAIL_WAIT_SECONDS = 15.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"/sign-in/([A-Za-z0-9_\-]+)")
_next_contact = itertools.count()
_mail_delays: list[float] = []  # milliseconds from asking for a link to its arrival


@events.quitting.add_listener
def _report_mail(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    """Write the sign-in email delays for the harness (they are not HTTP requests)."""
    target = os.environ.get("LOAD_MAIL_REPORT")
    if not target or not _mail_delays:
        return
    ordered = sorted(_mail_delays)
    summary = {
        "count": len(ordered),
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
    }
    Path(target).write_text(json.dumps(summary))


def _form(fields: dict) -> dict:
    """Keyword arguments for a form POST (repeated keys for list values)."""
    return {
        "data": urlencode(fields, doseq=True),
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    if found is None:
        raise ValueError("no CSRF token on the page")
    return found.group(1)


class Contact(FastHttpUser):
    """One customer contact signing in and browsing their invoices and statements."""

    wait_time = constant_throughput(USER_RATE)

    def on_start(self) -> None:
        n = next(_next_contact)
        self.turn = n
        contacts = PLAN["contacts"]
        if n >= len(contacts):
            raise RuntimeError(f"the plan has {len(contacts)} contacts; {n + 1} needed")
        self.me = contacts[n]
        self.pages = 0
        self.sign_in()

    # -- signing in and out --------------------------------------------------------------

    def sign_in(self) -> None:
        email = self.me["email"]
        page = self.client.get("/sign-in", name="/sign-in [form]")
        inbox = MAILDIR / email
        seen = set(os.listdir(inbox)) if inbox.exists() else set()
        self.client.post(
            "/sign-in",
            **_form({"email": email, "csrf_token": _csrf(page.text)}),
            name="/sign-in [ask for link]",
        )
        token = self._await_link(inbox, seen)
        if token is None:
            return
        confirm = self.client.get(f"/sign-in/{token}", name="/sign-in/<token> [open]")
        self.client.post(
            f"/sign-in/{token}",
            **_form({"csrf_token": _csrf(confirm.text)}),
            name="/sign-in/<token> [sign in]",
        )
        self.pages = 0

    def _await_link(self, inbox: Path, seen: set[str]) -> str | None:
        """Wait for the sign-in email and return the token in its link."""
        started = time.perf_counter()
        while time.perf_counter() - started < MAIL_WAIT_SECONDS:
            fresh = set(os.listdir(inbox)) - seen if inbox.exists() else set()
            for name in sorted(fresh):
                found = _LINK.search((inbox / name).read_text())
                if found is not None:
                    _mail_delays.append((time.perf_counter() - started) * 1000)
                    return found.group(1)
            time.sleep(0.02)  # gevent-patched: yields to other users
        events.request.fire(  # a lost email is a failure like any other
            request_type="MAIL",
            name="sign-in email arrives",
            response_time=MAIL_WAIT_SECONDS * 1000,
            response_length=0,
            exception=RuntimeError("no sign-in email within 15 s"),
            context={},
        )
        return None

    def _page(self, path: str, name: str) -> str:
        self.pages += 1
        if self.pages > PAGES_PER_VISIT:
            home = self.client.get("/", name="/")
            self.client.post(
                "/sign-out", **_form({"csrf_token": _csrf(home.text)}), name="/sign-out"
            )
            self.sign_in()
        return self.client.get(path, name=name).text

    # -- browsing --------------------------------------------------------------------

    @task
    def browse(self) -> None:
        """One part of a visit: chosen by weight, or the next one on a tour."""
        if PLAN.get("tour"):
            self.turn += 1
            part = _PARTS[self.turn % len(_PARTS)][0]
        else:
            part = random.choices(_PARTS, weights=[w for _, w in _PARTS])[0][0]
        getattr(self, part)()

    def home(self) -> None:
        self._page("/", "/")

    def invoice_list(self) -> None:
        choice = random.random()
        if choice < 0.5:
            self._page("/invoices", "/invoices")
        elif choice < 0.7:
            self._page("/invoices?status=open", "/invoices?status=")
        elif choice < 0.85:
            number = random.choice(self.me["numbers"])
            self._page(f"/invoices?q={number}", "/invoices?q=")
        else:
            self._page("/invoices?page=2", "/invoices?page=")

    def invoice(self) -> None:
        invoice_id = random.choice(self.me["invoices"])
        self._page(f"/invoices/{invoice_id}", "/invoices/<id>")

    def invoice_pdf(self) -> None:
        invoice_id = random.choice(self.me["invoices"])
        self._page(f"/invoices/{invoice_id}/pdf", "/invoices/<id>/pdf")

    def statement_page(self) -> None:
        self._page("/statements", "/statements")

    def statement_download(self) -> None:
        if PLAN.get("tour"):  # the first lap of a tour takes the PDF, the next the CSV
            fmt = "pdf" if (self.turn // len(_PARTS)) % 2 == 0 else "csv"
        else:
            fmt = "pdf" if random.random() < 0.7 else "csv"
        query = f"format={fmt}&from={self.me['from']}&to={self.me['to']}"
        self._page(
            f"/statements/download?{query}", f"/statements/download [{fmt}, 12 months]"
        )

    def payments(self) -> None:
        self._page("/payments", "/payments")

    def invoices_csv(self) -> None:
        self._page("/invoices.csv", "/invoices.csv")

    def invoices_zip(self) -> None:
        html = self._page("/invoices", "/invoices")
        chosen = random.sample(self.me["invoices"], min(5, len(self.me["invoices"])))
        self.client.post(
            "/invoices/download",
            **_form({"csrf_token": _csrf(html), "invoice": chosen}),
            name="/invoices/download [ZIP of 5 PDFs]",
        )


# What a contact does, with how often relative to the others.
_PARTS: list[tuple[str, int]] = [
    ("home", 3),
    ("invoice_list", 5),
    ("invoice", 4),
    ("invoice_pdf", 2),
    ("statement_page", 1),
    ("statement_download", 1),
    ("payments", 1),
    ("invoices_csv", 1),
    ("invoices_zip", 1),
]
