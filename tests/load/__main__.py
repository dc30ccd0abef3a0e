"""Load the portal the way customers do and find the rate it holds.

    python -m tests.load                       # SQLite, 100,000 invoices, 10-minute hold
    python -m tests.load --database postgresql://postgres@127.0.0.1:5432/test
    python -m tests.load --quick               # a 2-minute check of the harness itself

What it does, all on 127.0.0.1:
1. generates a store of ``--invoices`` invoices (tests.benchmarks.generate), imports it
   with ``billfold import`` and gives ``--contacts`` contacts access to the busiest
   accounts (each contact one account, billing role);
2. starts an SMTP sink, and the portal with ``billfold serve`` (gunicorn);
3. steps the request rate up with locust (tests/load/locustfile.py: real email
   sign-ins, lists, invoices, PDFs, statements, CSVs, ZIPs), ``--step-seconds`` per
   step, doubling until a step fails and then halving the gap, where a step passes when
   p99 < 500 ms, no request fails and the rate achieved is within 10 % of the target;
4. holds the highest passing rate for ``--hold-minutes`` (a failed hold retries 15 %
   lower, twice at most); a third of the way in, ``billfold import`` brings the next
   day's export (one invoice in 100 paid or amended) while the portal serves;
5. checks nothing was lost: the import applied every change, the load itself left the
   ledger tables as they were, every sign-in link asked for arrived by email, every
   sign-in and download left its audit event, and the server logged no errors.

It prints a table and writes ``load-report.json`` in the work folder; it exits 1 when no
rate passed or a check failed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text, update

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USER_RATE = 0.5  # requests per second per simulated contact (a 2 s think time)
P99_LIMIT_MS = 500.0
BILLFOLD = [sys.executable, "-m", "sync"]


@dataclass
class Step:
    """One locust run at one target rate."""

    target_rps: float
    users: int
    seconds: int
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    slowest: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    mail_ms: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return (
            self.requests > 0
            and self.failures == 0
            and self.p99_ms < P99_LIMIT_MS
            and self.rps >= 0.9 * self.target_rps
        )


# -- the SMTP sink -----------------------------------------------------------------------


class _Maildir:
    """aiosmtpd handler: each message becomes maildir/<recipient>/<n>.eml."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        body = message_from_bytes(envelope.content)
        text_part = body.get_body(("plain",)) if body.is_multipart() else body
        content = text_part.get_payload(decode=True) if text_part else b""
        for rcpt in envelope.rcpt_tos:
            inbox = self.folder / rcpt.lower()
            inbox.mkdir(parents=True, exist_ok=True)
            tmp = inbox / f".{self.count}.tmp"
            tmp.write_bytes(content or b"")
            tmp.rename(inbox / f"{self.count:08d}.eml")  # whole or not at all
        return "250 OK"


# -- preparing the store -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LOAD_DB = f"billfold_load_{os.getpid()}"


def _postgres_database(url: str, drop: bool = False) -> str:
    """Create (or *drop*) this run's own database on *url*'s server; return its URL."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {_LOAD_DB} WITH (FORCE)"))
        if not drop:
            conn.execute(text(f"CREATE DATABASE {_LOAD_DB}"))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + _LOAD_DB


def _write_config(work: Path, database_url: str, port: int, smtp_port: int) -> Path:
    config = work / "config.toml"
    config.write_text(
        f"""
data_dir = "data"
database_url = "{database_url}"
base_url = "http://127.0.0.1:{port}"
secret_key = "load-test-secret-{random.getrandbits(64):x}"

[business]
name = "Load Test Plumbing & Heating"
email = "office@load.example"

[portal]
# Every simulated contact signs in from 127.0.0.1, and far more often than people do;
# the limits are raised so the rate limiter does not answer for the portal.
rate_limit_per_email = 100000
rate_limit_per_ip = 100000000

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "portal@load.example"
timeout_seconds = 10
""".lstrip()
    )
    return config


def _billfold(config: Path, *args: str) -> str:
    done = subprocess.run(
        [*BILLFOLD, "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"billfold {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def _prepare(config: Path, work: Path, invoices: int, contacts: int) -> dict[str, Any]:
    """Import the generated export; give contacts access; return the locust plan."""
    from tests.benchmarks.generate import ensure

    export, rows = ensure(work / "exports", "xero_csv", invoices)
    _billfold(config, "db", "upgrade")  # a PostgreSQL store is migrated by its operator
    started = time.perf_counter()
    _billfold(config, "import", str(export))
    imported_s = time.perf_counter() - started
    print(f"imported {invoices:,} invoices ({rows:,} rows) in {imported_s:.1f} s")

    from schemas.tables import ACCOUNTS, INVOICES
    from sync.access.contacts import ensure_contact
    from sync.access.grants import grant_access
    from sync.config import load_settings
    from sync.store import open_store

    settings = load_settings(config)
    store = open_store(settings)
    accounts = ACCOUNTS
    inv = INVOICES
    rng = random.Random(7)
    plan: list[dict[str, Any]] = []
    with store.write(ledger=False) as conn:
        busiest = conn.execute(
            select(inv.c.account_id, func.max(inv.c.issue_date))
            .where(inv.c.lifecycle == "issued")
            .group_by(inv.c.account_id)
            .having(func.count() >= 10)
            .order_by(func.count().desc(), inv.c.account_id)
            .limit(contacts)
        ).all()
        for n in range(contacts):
            account_id, newest = busiest[n % len(busiest)]
            conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(portal_enabled=True)
            )
            email = f"contact{n}@load.example"
            contact = ensure_contact(conn, email, f"Contact {n}")
            grant_access(conn, contact, account_id, "billing")
            mine = conn.execute(
                select(inv.c.id, inv.c.number).where(
                    inv.c.account_id == account_id, inv.c.lifecycle == "issued"
                )
            ).all()
            picked = rng.sample(mine, min(40, len(mine)))
            plan.append(
                {
                    "email": email,
                    "invoices": [row.id for row in picked],
                    "numbers": [row.number for row in picked[:10]],
                    "from": (newest - timedelta(days=364)).isoformat(),
                    "to": newest.isoformat(),
                }
            )
    store.dispose()
    return {
        "contacts": plan,
        "import_seconds": imported_s,
        "rows": rows,
        "export": str(export),
    }


def _ledger_digest(config: Path) -> str:
    """A digest of the money tables: equal digests mean an unchanged ledger.

    (Contacts are left out: signing in stamps their last sign-in.)
    """
    from sync.config import load_settings
    from sync.store import open_store
    from tests.helpers import BUSINESS_TABLES

    ledger = [t for t in BUSINESS_TABLES if t not in ("contact", "access_grant")]
    store = open_store(load_settings(config))
    digest = hashlib.sha256()
    with store.read() as conn:
        for table in ledger:
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")):
                digest.update(repr(tuple(row)).encode())
    store.dispose()
    return digest.hexdigest()


def _audit_counts(config: Path) -> dict[str, int]:
    from schemas.tables import AUDIT_EVENTS
    from sync.config import load_settings
    from sync.store import open_store

    store = open_store(load_settings(config))
    events = AUDIT_EVENTS
    with store.read() as conn:
        rows = conn.execute(
            select(events.c.action, func.count()).group_by(events.c.action)
        ).all()
    store.dispose()
    return {action: n for action, n in rows}


class _ImportDuringLoad(threading.Thread):
    """Re-import the export with one invoice in 100 changed, partway through a hold.

    The export is the previous one with those invoices paid or amended, as the billing
    system would send the next day. Afterwards it records the ledger's digest, so the
    checks can tell the load itself changed nothing.
    """

    def __init__(self, config: Path, previous: Path, target: Path, delay: float):
        super().__init__(daemon=True)
        from tests.benchmarks.generate import changed_copy

        self.config, self.target, self.delay = config, target, delay
        self.expected = changed_copy(previous, target)
        self.result: dict[str, Any] = {}

    def run(self) -> None:
        time.sleep(self.delay)
        started = time.perf_counter()
        done = subprocess.run(
            [
                *BILLFOLD,
                "--config",
                str(self.config),
                "import",
                "--json",
                str(self.target),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        try:
            result = json.loads(done.stdout)[0]
        except (ValueError, IndexError):
            result = {"status": "failed", "reason": done.stderr[-2000:]}
        self.result = {
            "seconds": round(seconds, 1),
            "status": result.get("status"),
            "updated": result.get("updated"),
            "expected_updated": self.expected,
            "ok": done.returncode == 0 and result.get("updated") == self.expected,
            "ledger_after": _ledger_digest(self.config),
        }


# -- the server and locust ----------------------------------------------------------------


def _start_server(config: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    out = log.open("ab")
    server = subprocess.Popen(
        [
            *BILLFOLD,
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the portal exited at start; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the portal did not listen on port {port} within 60 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _ms(row: dict[str, str], column: str) -> float:
    value = row.get(column, "")
    return float(value) if value not in ("", "N/A") else 0.0


def _run_step(
    plan_path: Path,
    port: int,
    work: Path,
    target: float,
    seconds: int,
    label: str,
    pages_per_visit: int,
) -> Step:
    users = max(1, round(target / USER_RATE))
    step = Step(target_rps=target, users=users, seconds=seconds)
    prefix = work / "locust" / label
    prefix.parent.mkdir(exist_ok=True)
    env = dict(
        os.environ,
        LOAD_PLAN=str(plan_path),
        LOAD_USER_RATE=str(USER_RATE),
        LOAD_PAGES_PER_VISIT=str(pages_per_visit),
        LOAD_MAIL_REPORT=str(prefix) + "_mail.json",
    )
    ramp = max(5, min(30, users // 10))
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", f"http://127.0.0.1:{port}", "-u", str(users),
        "-r", str(max(1, users // ramp)), "-t", f"{seconds + ramp}s",
        "--reset-stats", "--csv", str(prefix), "--only-summary", "--stop-timeout", "15",
        "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    with (work / "locust" / f"{label}.log").open("wb") as log:
        subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=log, check=False)
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["Name"] == "Aggregated":
            step.requests = int(row["Request Count"])
            step.failures = int(row["Failure Count"])
            step.rps = float(row["Requests/s"])
            step.p50_ms = _ms(row, "50%")
            step.p95_ms = _ms(row, "95%")
            step.p99_ms = _ms(row, "99%")
            step.max_ms = _ms(row, "Max Response Time")
        else:
            step.counts[f"{row['Type']} {row['Name']}"] = int(row["Request Count"])
    named = [r for r in rows if r["Name"] != "Aggregated"]
    named.sort(key=lambda r: _ms(r, "99%"), reverse=True)
    step.slowest = [f"{r['Name']} p99 {r['99%']} ms" for r in named[:3]]
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        with failures.open(newline="") as f:
            step.errors = [
                f"{r['Occurrences']}× {r['Method']} {r['Name']}: {r['Error']}"
                for r in csv.DictReader(f)
            ]
    mail = Path(env["LOAD_MAIL_REPORT"])
    if mail.exists():
        step.mail_ms = json.loads(mail.read_text())
    return step


def _show(step: Step, label: str) -> None:
    verdict = "pass" if step.passed else "FAIL"
    print(
        f"{label:>6} target {step.target_rps:6.1f}/s  users {step.users:4d}  "
        f"got {step.rps:6.1f}/s  p50 {step.p50_ms:5.0f}  p95 {step.p95_ms:5.0f}  "
        f"p99 {step.p99_ms:5.0f} ms  requests {step.requests:6d}  "
        f"failures {step.failures}  {verdict}",
        flush=True,
    )
    for line in step.errors[:5]:
        print(f"        {line}")


def _search(run, start: float, limit: float, tries: int) -> tuple[float, list[Step]]:  # type: ignore[no-untyped-def]
    """The highest passing target rate: double from *start*, then bisect."""
    steps: list[Step] = []
    best, worst = 0.0, None
    rate = start
    while len(steps) < tries and rate <= limit:
        step = run(rate, f"s{len(steps) + 1}")
        steps.append(step)
        if step.passed:
            best = rate
            rate = rate * 2 if worst is None else (rate + worst) / 2
        else:
            worst = rate
            rate = (best + worst) / 2 if best else rate / 2
        if worst is not None and best and (worst - best) / best < 0.1:
            break
        rate = round(rate, 1)
    return best, steps


# -- checks after the run ----------------------------------------------------------------


_REQUEST = re.compile(
    r"event=http\.access method=(GET|POST|HEAD) path=(\S+) status=(\d{3}) "
)


def _served(log: Path) -> dict[str, int]:
    """Responses by kind, counted from gunicorn's access log (the server's own word)."""
    counts = {"link asked": 0, "sign-in": 0, "invoice pdf": 0, "5xx": 0, "errors": 0}
    for line in log.read_text(errors="replace").splitlines():
        if "Traceback" in line or "mail.gave_up" in line or "level=ERROR" in line:
            counts["errors"] += 1
        found = _REQUEST.search(line)
        if found is None:
            continue
        method, path, status = found.groups()
        if status.startswith("5"):
            counts["5xx"] += 1
        if method == "POST" and path == "/sign-in" and status == "200":
            counts["link asked"] += 1
        elif method == "POST" and path.startswith("/sign-in/") and status == "302":
            counts["sign-in"] += 1
        elif method == "GET" and _PDF.fullmatch(path) and status == "200":
            counts["invoice pdf"] += 1
    return counts


_PDF = re.compile(r"/invoices/\d+/pdf")


def _checks(
    before: dict[str, Any],
    after: dict[str, Any],
    mails: int,
    log: Path,
    imports: list[dict[str, Any]],
) -> dict[str, Any]:
    """What the run must not have lost, from the store, the SMTP sink and the log."""
    served = _served(log)

    def grew(action: str) -> int:
        return after["audit"].get(action, 0) - before["audit"].get(action, 0)

    checks = {
        "imports during the load applied every change": all(i["ok"] for i in imports),
        "ledger tables unchanged by the load": before["ledger"] == after["ledger"],
        "every sign-in link asked for arrived by email": mails == served["link asked"],
        "every sign-in has its audit event": grew("sign_in") == served["sign-in"],
        "every invoice PDF served has its audit event": (
            grew("download_invoice_pdf") == served["invoice pdf"]
        ),
        "no 5xx answers, tracebacks or dropped mail in the server log": (
            served["5xx"] == 0 and served["errors"] == 0
        ),
    }
    return {
        "passed": all(checks.values()),
        "checks": checks,
        "served": served,
        "mails_received": mails,
        "sign_in_events": grew("sign_in"),
        "invoice_pdf_events": grew("download_invoice_pdf"),
        "imports": imports,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1200)
    parser.add_argument("--database", default="", help="postgresql:// URL of a server")
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1)))
    parser.add_argument("--start-rps", type=float, default=20.0)
    parser.add_argument("--step-seconds", type=int, default=60)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--hold-minutes", type=float, default=10.0)
    parser.add_argument(
        "--pages-per-visit", type=int, default=20, help="pages between sign-ins"
    )
    parser.add_argument("--rate", type=float, help="skip the search; hold this rate")
    parser.add_argument("--work", type=Path, help="work folder (default: a new one)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="2,000 invoices, 20-second steps and hold: checks the harness, not the portal",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.invoices, args.contacts = 2000, 60
        args.step_seconds, args.steps, args.hold_minutes = 20, 2, 1 / 3
        args.rate, args.pages_per_visit = args.rate or 10.0, 5
    work = args.work or Path(tempfile.mkdtemp(prefix="billfold-load-"))
    if work.exists() and any(work.glob("data")):
        shutil.rmtree(work / "data")
    work.mkdir(parents=True, exist_ok=True)
    maildir = work / "mail"
    shutil.rmtree(maildir, ignore_errors=True)
    database_url = _postgres_database(args.database) if args.database else ""
    port, sink = _free_port(), _Maildir(maildir)
    smtp = Controller(sink, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    config = _write_config(work, database_url, port, smtp.port)
    print(f"work folder {work}; database {database_url or 'SQLite'}", flush=True)
    prepared = _prepare(config, work, args.invoices, args.contacts)
    plan_path = work / "plan.json"
    plan_path.write_text(
        json.dumps({"maildir": str(maildir), "tour": args.quick, **prepared})
    )
    users_cap = len(prepared["contacts"]) * USER_RATE
    before = {"ledger": _ledger_digest(config), "audit": _audit_counts(config)}
    log = work / "server.log"
    log.unlink(missing_ok=True)
    server = _start_server(config, port, args.workers, log)
    imports: list[dict[str, Any]] = []
    try:

        def run(target: float, label: str, seconds: int = args.step_seconds) -> Step:
            step = _run_step(
                plan_path, port, work, target, seconds, label, args.pages_per_visit
            )
            _show(step, label)
            return step

        steps: list[Step] = []
        best = args.rate
        if best is None:
            best, steps = _search(run, args.start_rps, users_cap, args.steps)
        holds: list[Step] = []
        hold_seconds = round(args.hold_minutes * 60)
        rate, previous = best, Path(prepared["export"])
        for attempt in range(3):
            if not rate:
                break
            target = work / "exports" / f"next-day-{attempt + 1}.csv"
            importer = _ImportDuringLoad(config, previous, target, hold_seconds / 3)
            importer.start()
            hold = run(rate, f"hold{attempt + 1}", hold_seconds)
            importer.join()
            imports.append(importer.result)
            print(
                f"        import during the hold: {importer.result['status']}, "
                f"{importer.result['updated']} of {importer.expected} invoices changed "
                f"in {importer.result['seconds']} s",
                flush=True,
            )
            holds.append(hold)
            previous = target
            if hold.passed:
                break
            rate = round(rate * 0.85, 1)
    finally:
        _stop(server)
        smtp.stop()
    after = {"ledger": _ledger_digest(config), "audit": _audit_counts(config)}
    if imports:  # the ledger the imports left is what the load must not change
        before["ledger"] = imports[-1].pop("ledger_after")
        for done in imports[:-1]:
            done.pop("ledger_after")
    checks = _checks(before, after, sink.count, log, imports)
    held = next((h for h in holds if h.passed), None)
    report = {
        "database": "PostgreSQL" if database_url else "SQLite",
        "invoices": args.invoices,
        "contacts": len(prepared["contacts"]),
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "import_seconds": round(prepared["import_seconds"], 1),
        "steps": [asdict(s) for s in steps],
        "holds": [asdict(h) for h in holds],
        "held": asdict(held) if held else None,
        "checks": checks,
    }
    (work / "load-report.json").write_text(json.dumps(report, indent=2))
    if args.database:
        _postgres_database(args.database, drop=True)
    print()
    for name, ok in checks["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if held:
        print(
            f"\nheld {held.rps:.1f} requests/s for {held.seconds // 60} min "
            f"{held.seconds % 60} s: p50 {held.p50_ms:.0f} ms, p99 {held.p99_ms:.0f} ms, "
            f"{held.requests:,} requests, {held.failures} failed "
            f"({report['database']}, {args.invoices:,} invoices, "
            f"{args.workers} gunicorn workers, {os.cpu_count()} CPUs)"
        )
    else:
        print("\nno rate held")
    print(f"report: {work / 'load-report.json'}")
    return 0 if held and checks["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
