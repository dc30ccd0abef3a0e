"""Benchmarks against this machine's limits and the peer tool: ``python -m tests.benchmarks``.

One command runs every figure of issue 8 and prints one table: figure, value,
reference, ratio, goal, pass/fail, then the machine. Absolute times drift on a shared
machine, so each goal is a ratio to a reference measured in the same run, in fresh
processes, interleaved with the figure it judges (median of ``--repeat`` pairs).

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python -m tests.benchmarks
    .venv/bin/python -m tests.benchmarks --quick     # 10k/100k only: a smoke run

Generated exports and stores live in ``--workdir`` (default /tmp/billfold-bench; the
exports are kept between runs, the stores are rebuilt). PostgreSQL figures use their
own schemas in ``--pg`` and drop them afterwards. Not part of the pytest suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.benchmarks.generate import changed_copy, ensure

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
K = 1000


@dataclass
class Figure:
    """One row of the table."""

    name: str
    value: str
    reference: str
    ratio: float | None
    goal: str
    ok: bool | None  # None: information, no goal
    note: str = ""


def _run(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a worker in a fresh interpreter; return the JSON object it printed."""
    done = subprocess.run(
        [PY, *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def _store_env(folder: Path, url: str | None = None) -> dict[str, str]:
    return {
        "BILLFOLD_DATA_DIR": str(folder / "data"),
        "BILLFOLD_DATABASE_URL": url or f"sqlite:///{folder / 'store.db'}",
        "BILLFOLD_SECRET_KEY": "benchmark-secret",
    }


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def import_into(folder: Path, export: Path, url: str | None = None) -> dict[str, Any]:
    """billfold's pipeline in its own process, into the store in *folder* (or *url*)."""
    out = _run(
        ["-m", "tests.benchmarks.worker", "import", str(export)],
        _store_env(folder, url),
    )
    if out["status"] != "applied" or out["rejected"]:
        raise RuntimeError(f"import of {export.name} did not apply cleanly: {out}")
    return out


def _phase_apply(result: dict[str, Any]) -> float:
    return result["phases"]["apply"] + result["phases"]["finish"]


# -- PostgreSQL schemas ---------------------------------------------------------------


class Postgres:
    """Schemas of one run in the benchmark database; all dropped at the end."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        self.schemas: list[str] = []
        self.conn = psycopg.connect(url, autocommit=True)
        self.version = self.conn.execute("SHOW server_version").fetchone()[0]

    def schema(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        self.conn.execute(f'CREATE SCHEMA "{name}"')
        self.schemas.append(name)
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-csearch_path%3D{name}"

    def drop(self) -> None:
        for name in self.schemas:
            self.conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.schemas = []


# -- servers ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """A gunicorn (2 sync workers) on 127.0.0.1, stopped by its own pid."""

    def __init__(self, app: str, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [PY, "-m", "gunicorn", "-w", "2", "-k", "sync", "-b",
             f"127.0.0.1:{self.port}", "--log-level", "warning", app],
            cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=self.log,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn {app} did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def wrk(
    port: int, path: str, cookie: str | None, seconds: int, connections: int = 16
) -> dict[str, float]:
    """wrk -t2 against one path; return req/s, p50 and p99 ms, non-2xx count."""
    threads = min(2, connections)
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        args += ["-H", f"Cookie: billfold_session={cookie}"]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    result = {"errors": 0.0}
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(words[1])
        elif words[:1] in (["50%"], ["99%"]):
            result["p" + words[0].rstrip("%")] = _ms(words[1])
        elif "Non-2xx" in line or line.strip().startswith("Socket errors"):
            result["errors"] += sum(
                float(w.rstrip(",")) for w in words if w.rstrip(",").isdigit()
            )
    return result


def _ms(text: str) -> float:
    for unit, factor in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


# -- the run -------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work: Path = args.workdir
        self.data = self.work / "exports"
        self.figures: list[Figure] = []
        self.raw: dict[str, Any] = {}
        self.sizes = (10 * K, 100 * K) if args.quick else (10 * K, 100 * K, 1000 * K)

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def add(self, *args: Any, **kwargs: Any) -> None:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        self.say(f"{figure.name}: {figure.value} ({figure.reference}) -> {figure.goal}")

    def export(self, fmt: str, count: int) -> tuple[Path, int]:
        self.say(f"export {fmt} {count:,} invoices")
        return ensure(self.data, fmt, count)

    def repeat(
        self, *steps: Callable[[], dict[str, Any]]
    ) -> list[list[dict[str, Any]]]:
        """Run the steps in turn, ``--repeat`` times (interleaved, so drift hits all)."""
        return [[step() for step in steps] for _ in range(self.args.repeat)]

    # -- import vs the floor and the peer -----------------------------------------------

    def imports(self) -> None:
        xero, rows = self.export("xero_csv", 100 * K)
        self.raw["xero_100k_rows"] = rows
        stores = self.work / "stores"

        def floor() -> dict[str, Any]:
            folder = _fresh(stores / "floor")
            return _run(
                ["-m", "tests.benchmarks.worker", "floor-sqlite", str(xero),
                 str(folder / "floor.db")]
            )  # fmt: skip

        def billfold() -> dict[str, Any]:
            return import_into(_fresh(stores / f"x{100 * K}"), xero)

        pairs = self.repeat(floor, billfold)
        ratios = [f["seconds"] / b["seconds"] for f, b in pairs]
        fresh = [b for _, b in pairs]
        imp = statistics.median(b["seconds"] for b in fresh)
        flo = statistics.median(f["seconds"] for f, _ in pairs)
        self.raw["import_100k"] = pairs
        self.add(
            f"Xero CSV import, {rows:,} rows (100k invoices), SQLite",
            f"{imp:.2f} s ({rows / imp / K:.0f}k rows/s)",
            f"floor {flo:.2f} s (csv + Decimal + sqlite3 executemany)",
            statistics.median(ratios),
            "≥ 0.6× the floor's speed",
            statistics.median(ratios) >= 0.6,
            "speed ratio = floor time / import time, median of interleaved pairs",
        )
        self.fresh_100k = fresh[-1]
        self.import_100k_seconds = imp
        self.peer(xero, rows, imp)
        self.changed(xero)
        self.identical(xero)

    def peer(self, xero: Path, rows: int, imp: float) -> None:
        if self.args.no_dlt:
            self.add(
                "vs dlt (DuckDB + parquet, merge)", "not run (--no-dlt)",
                "LIMITS.md: 17.5 s for 300k rows of an 18-column CSV", 17.5 / imp,
                "≥ 3× faster", 17.5 / imp >= 3, "figure from LIMITS.md, not this run",
            )  # fmt: skip
            return
        try:
            import dlt  # noqa: F401  (only to know it is installed)
        except ImportError:
            self.add(
                "vs dlt (DuckDB + parquet, merge)", "dlt not installed",
                "LIMITS.md: 17.5 s for 300k rows of an 18-column CSV", 17.5 / imp,
                "≥ 3× faster", 17.5 / imp >= 3,
                "pip install -e '.[bench]' to run dlt in the same run",
            )  # fmt: skip
            return
        self.say("dlt: DuckDB + parquet, merge on (InvoiceNumber, line_no)")
        folder = _fresh(self.work / "dlt")
        out = _run(["-m", "tests.benchmarks.worker", "dlt", str(xero), str(folder)])
        shutil.rmtree(folder, ignore_errors=True)
        self.raw["dlt"] = out
        self.add(
            "vs dlt, same file (DuckDB + parquet, merge)",
            f"billfold {imp:.2f} s",
            f"dlt {out['seconds']:.2f} s ({rows / out['seconds'] / K:.0f}k rows/s, "
            f"{out['rss_mb']:.0f} MB)",
            out["seconds"] / imp,
            "≥ 3× faster",
            out["seconds"] / imp >= 3,
            "dlt's best configuration here; its SQLite merge grows quadratically",
        )

    def changed(self, xero: Path) -> None:
        """Re-import with 1 % of invoices changed into the 100k store."""
        copy = self.data / "xero_csv-100000-changed.csv"
        if not copy.exists():
            changed_copy(xero, copy)
        out = import_into(self.work / "stores" / f"x{100 * K}", copy)
        self.raw["changed_1pct"] = out
        fresh = _phase_apply(self.fresh_100k)
        apply = _phase_apply(out)
        self.add(
            "Re-import, 1 % of invoices changed: apply phase",
            f"{apply:.3f} s ({out['updated']:,} updated, {out['unchanged']:,} unchanged; "
            f"whole import {out['seconds']:.2f} s)",
            f"fresh import's apply {fresh:.2f} s",
            apply / fresh,
            "≤ 0.10 of a fresh import's",
            apply / fresh <= 0.10,
            "apply = writes (documents, lines, derived figures)",
        )

    def identical(self, xero: Path) -> None:
        """The same bytes again, through the CLI: start-up + hashing, nothing else."""
        tiny, _ = self.export("xero_csv", 1)
        store = self.work / "stores" / f"x{100 * K}"
        env = _store_env(store)
        cli = ["-m", "sync", "import", "--json"]
        _timed([*cli, str(tiny)], env)  # applied once; timed runs are duplicates

        def startup() -> dict[str, Any]:
            return {"seconds": _timed([*cli, str(tiny)], env)}

        def again() -> dict[str, Any]:
            return {"seconds": _timed([*cli, str(xero)], env)}

        def hashing() -> dict[str, Any]:
            return _run(["-m", "tests.benchmarks.worker", "hash", str(xero)])

        # The difference is a tenth of a second against a start-up of over one: runs
        # are cheap, so take more of them than the other figures do.
        runs = [[step() for step in (startup, again, hashing)] for _ in range(9)]
        start = statistics.median(r[0]["seconds"] for r in runs)
        whole = statistics.median(r[1]["seconds"] for r in runs)
        digest = statistics.median(r[2]["seconds"] for r in runs)
        ratio = (whole - start) / digest
        self.raw["identical"] = runs
        self.add(
            f"Re-import of identical bytes ({xero.stat().st_size / 2**20:.0f} MiB)",
            f"{whole:.2f} s (CLI, whole process)",
            f"start-up {start:.2f} s + hash {digest:.3f} s",
            ratio,
            "≤ start-up + 1.5× hash",
            ratio <= 1.5,
            "ratio = (re-import − start-up) / hash; start-up = the CLI re-importing a "
            "1-invoice file",
        )

    # -- PostgreSQL ----------------------------------------------------------------------

    def postgres(self) -> None:
        xero, rows = self.export("xero_csv", 100 * K)
        try:
            pg = Postgres(self.args.pg)
        except Exception as exc:
            self.add(
                "PostgreSQL import vs COPY", "not run", str(exc)[:80], None,
                "≥ 0.5× COPY's speed", False, "PostgreSQL unreachable",
            )  # fmt: skip
            return
        self.pg_version = pg.version
        stores = self.work / "stores"
        try:

            def copy() -> dict[str, Any]:
                out = _run(
                    ["-m", "tests.benchmarks.worker", "floor-copy", str(xero),
                     pg.schema()]
                )  # fmt: skip
                pg.drop()
                return out

            def billfold() -> dict[str, Any]:
                out = import_into(_fresh(stores / "pg"), xero, pg.schema())
                pg.drop()
                return out

            pairs = self.repeat(copy, billfold)
        finally:
            pg.drop()
        ratios = [c["seconds"] / b["seconds"] for c, b in pairs]
        imp = statistics.median(b["seconds"] for _, b in pairs)
        cop = statistics.median(c["seconds"] for c, _ in pairs)
        self.raw["postgres"] = pairs
        self.add(
            f"Xero CSV import, {rows:,} rows, PostgreSQL",
            f"{imp:.2f} s ({rows / imp / K:.0f}k rows/s)",
            f"COPY {cop:.2f} s (csv + Decimal + psycopg COPY)",
            statistics.median(ratios),
            "≥ 0.5× COPY's speed",
            statistics.median(ratios) >= 0.5,
            "speed ratio = COPY time / import time, median of interleaved pairs",
        )

    # -- growth and memory ---------------------------------------------------------------

    def growth(self) -> None:
        per_row: dict[int, float] = {}
        rss_by_rows: dict[int, float] = {}
        for count in self.sizes:
            xero, rows = self.export("xero_csv", count)
            if count == 100 * K:
                seconds = self.import_100k_seconds
                rss = self.fresh_100k["rss_mb"]
            else:
                out = import_into(_fresh(self.work / "stores" / f"x{count}"), xero)
                seconds, rss = out["seconds"], out["rss_mb"]
                self.raw[f"import_{count}"] = out
            per_row[count] = seconds / rows * 1e6
            rss_by_rows[rows] = rss
        low, high = self.sizes[0], self.sizes[-1]
        ratio = per_row[high] / per_row[low]
        self.add(
            f"Import cost per row, {low // K}k → {high // K}k invoices",
            " → ".join(f"{per_row[c]:.1f} µs" for c in self.sizes),
            f"{per_row[low]:.1f} µs at {low // K}k",
            ratio,
            "flat (≤ 1.3×)",
            ratio <= 1.3,
        )
        self.raw["rss_by_rows"] = rss_by_rows
        rows_top = max(rss_by_rows)
        rss_top = rss_by_rows[rows_top]
        note = (
            "" if rows_top >= 2_900_000 else "quick run: the full run measures 3M rows"
        )
        self.add(
            f"Peak memory of an import, {rows_top:,} rows",
            f"{rss_top:.0f} MB (whole process)",
            " / ".join(
                f"{v:.0f} MB at {k:,} rows" for k, v in sorted(rss_by_rows.items())
            ),
            rss_top / 300,
            "≤ 300 MB at 3M rows",
            rss_top <= 300,
            note,
        )
        for fmt in ("generic_csv", "quickbooks_api"):
            cost = []
            for count in (10 * K, 100 * K):
                export, rows = self.export(fmt, count)
                out = import_into(_fresh(self.work / "stores" / f"{fmt}"), export)
                cost.append(out["seconds"] / rows * 1e6)
                self.raw[f"{fmt}_{count}"] = out
            self.add(
                f"{fmt} import cost per row, 10k → 100k invoices",
                f"{cost[0]:.1f} → {cost[1]:.1f} µs "
                f"({1e3 / cost[1]:.0f}k rows/s at 100k)",
                "",
                cost[1] / cost[0],
                "flat (≤ 1.3×)",
                cost[1] / cost[0] <= 1.3,
            )
        shutil.rmtree(self.work / "stores" / "generic_csv", ignore_errors=True)
        shutil.rmtree(self.work / "stores" / "quickbooks_api", ignore_errors=True)

    # -- portal --------------------------------------------------------------------------

    def portal(self) -> None:
        stores = {}
        for count in self.sizes:
            folder = self.work / "stores" / f"x{count}"
            setup = _run(
                ["-c", "import json; from tests.benchmarks.pages import prepare_portal; "
                 "print(json.dumps(prepare_portal()))"],
                _store_env(folder),
            )  # fmt: skip
            timing = _run(
                ["-m", "tests.benchmarks.pages", json.dumps(setup),
                 str(self.args.pages), str(self.args.pdfs)],
                _store_env(folder),
            )  # fmt: skip
            stores[count] = (folder, setup, timing)
            self.raw[f"pages_{count}"] = {"setup": setup, "timing": timing}
        low, high = self.sizes[0], self.sizes[-1]
        page_low = stores[low][2]["list_steady_ms"]
        page_high = stores[high][2]["list_steady_ms"]
        self.add(
            f"Invoice list page (100 invoices), store of {low // K}k → {high // K}k",
            " → ".join(f"{stores[c][2]['list_steady_ms']:.2f} ms" for c in self.sizes),
            f"{page_low:.2f} ms at {low // K}k",
            page_high / page_low,
            "flat (≤ 1.3×)",
            page_high / page_low <= 1.3,
            "in-process (Flask test client), median",
        )
        folder, setup, timing = stores[high]
        big = setup["big"]
        self.serve(folder, big, high)
        self.add(
            "Invoice PDF",
            f"{timing['invoice_pdf_ms']:.1f} ms p50",
            "reportlab cells: 2.5 ms (LIMITS.md)",
            timing["invoice_pdf_ms"] / 10,
            "p50 ≤ 10 ms",
            timing["invoice_pdf_ms"] <= 10,
            "whole request, in-process",
        )
        rows = timing["statement_lines"] + timing["statement_open_items"]
        per_row = timing["statement_pdf_ms"] / rows
        self.add(
            f"Statement PDF, 12 months: {timing['statement_lines']} transactions and "
            f"{timing['statement_open_items']} open invoices",
            f"{timing['statement_pdf_ms']:.1f} ms p50 ({per_row:.3f} ms per row)",
            "goal scaled per row: 100 ms for 500 rows = 0.2 ms per row; reportlab "
            "cells: 33 ms for 200 rows (LIMITS.md)",
            per_row / 0.2,
            "p50 ≤ 100 ms for 500 rows",
            per_row <= 0.2,
            "whole request, in-process. The generated Xero export has no payment "
            "dates, so invoices it reports paid are settled as of the export and "
            "still open at the end of a past period: they are listed",
        )

    def serve(self, folder: Path, big: dict[str, Any], count: int) -> None:
        env = _store_env(folder)
        seconds = self.args.wrk_seconds
        runs = []
        for _ in range(self.args.repeat):
            for name, app, extra, cookie in (
                ("bare", "tests.benchmarks.bare_app:app",
                 {"BENCH_DB": str(folder / "store.db"),
                  "BENCH_ACCOUNT": str(big["account_id"])}, None),
                ("billfold", "portal.wsgi:app", {}, big["cookie"]),
            ):  # fmt: skip
                server = Gunicorn(app, {**env, **extra})
                try:
                    wrk(server.port, "/invoices", cookie, 2)  # warm-up
                    result = wrk(server.port, "/invoices", cookie, seconds)
                    # Latency without queueing: one connection per worker.
                    paced = wrk(server.port, "/invoices", cookie, seconds, 2)
                    result["p50_c2"], result["p99_c2"] = paced["p50"], paced["p99"]
                    result["errors"] += paced["errors"]
                    runs.append((name, result))
                finally:
                    server.stop()
        self.raw["wrk"] = runs
        bare = [r for n, r in runs if n == "bare"]
        ours = [r for n, r in runs if n == "billfold"]
        rps = statistics.median(r["rps"] for r in ours)
        ref = statistics.median(r["rps"] for r in bare)
        p99 = statistics.median(r["p99"] for r in ours)
        errors = sum(r["errors"] for r in ours)
        self.add(
            f"Invoice list, account of {big['invoices']:,} invoices in a store of "
            f"{count // K}k, gunicorn 2 workers, wrk -c16",
            f"{rps:.0f} req/s",
            f"bare Flask route, same query: {ref:.0f} req/s",
            rps / ref,
            "≥ 0.7× the bare route",
            rps / ref >= 0.7 and errors == 0,
            f"non-2xx/socket errors: {errors:.0f}",
        )
        self.add(
            "  … its p99 latency at 16 connections (saturated: queueing)",
            f"{p99:.1f} ms",
            f"bare route p99 {statistics.median(r['p99'] for r in bare):.1f} ms",
            None,
            "information",
            None,
            "16 connections on 2 workers wait their turn: p99 is mostly the queue",
        )
        p99_c2 = statistics.median(r["p99_c2"] for r in ours)
        self.add(
            "  … its p99 latency at 2 connections (one per worker)",
            f"{p99_c2:.1f} ms (p50 {statistics.median(r['p50_c2'] for r in ours):.1f})",
            f"bare route p99 {statistics.median(r['p99_c2'] for r in bare):.1f} ms",
            p99_c2 / 30,
            "p99 ≤ 30 ms",
            p99_c2 <= 30,
        )

    # -- sign-in during an import ----------------------------------------------------------

    def signin(self) -> None:
        """Sign-in p99 while a 300k-row import runs on SQLite (tests.benchmarks.signin)."""
        self.say("sign-in latency during a 300k-row import (SQLite)")
        out = self.work / "signin.json"
        subprocess.run(
            [PY, "-m", "tests.benchmarks.signin", "--workdir", str(self.work),
             "--json", str(out)],
            cwd=ROOT, capture_output=True, check=False,
        )  # fmt: skip
        figures = json.loads(out.read_text())
        self.raw["signin"] = figures
        p99 = figures["whole_p99_ms"]
        self.add(
            f"Sign-in during a {figures['rows']:,}-row import, SQLite",
            f"p99 {p99:,.0f} ms (p50 {figures['whole_p50_ms']:,.0f}, max "
            f"{figures['whole_max_ms']:,.0f}; {figures['sign_ins']} sign-ins, "
            f"{figures['refused']} refused)",
            f"import {figures['import_seconds']} s, of which apply + finish "
            f"{_phase_apply(figures):.1f} s under the lock",
            p99 / 200,
            "p99 ≤ 200 ms",
            p99 <= 200,
            "a visitor every 250 ms; latency from arrival",
        )

    # -- report --------------------------------------------------------------------------

    def facts(self) -> dict[str, str]:
        cpu = "unknown"
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        memory = "unknown"
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal"):
                    memory = f"{int(line.split()[1]) / 2**20:.0f} GiB"
        try:
            import dlt

            dlt_version = dlt.__version__
        except ImportError:
            dlt_version = "not installed"
        return {
            "cpu": f"{cpu} × {os.cpu_count()}",
            "memory": memory,
            "os": platform.platform(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "postgresql": getattr(self, "pg_version", "not reached"),
            "dlt": dlt_version,
            "load average (1 min) at start / end": f"{self.load_start:.2f} / "
            f"{os.getloadavg()[0]:.2f}",
        }

    def run(self) -> int:
        self.load_start = os.getloadavg()[0]
        started = time.monotonic()
        self.work.mkdir(parents=True, exist_ok=True)
        self.imports()
        self.signin()
        if not self.args.no_postgres:
            self.postgres()
        self.growth()
        self.portal()
        elapsed = time.monotonic() - started
        facts = self.facts()
        facts["run took"] = f"{elapsed / 60:.1f} min"
        command = "python -m tests.benchmarks" + (" --quick" if self.args.quick else "")
        print(render(self.figures, facts, command))
        report = {"figures": [asdict(f) for f in self.figures], "facts": facts,
                  "raw": self.raw, "command": command}  # fmt: skip
        out = self.args.json or self.work / "results.json"
        Path(out).write_text(json.dumps(report, indent=1, default=str))
        print(f"\nraw results: {out}")
        return 0 if all(f.ok is not False for f in self.figures) else 1


def _timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [PY, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return seconds


def render(figures: list[Figure], facts: dict[str, str], command: str) -> str:
    """The table as Markdown (readable in a terminal, pasteable into docs)."""
    lines = [
        "| figure | value | reference | ratio | goal | result |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
        result = {True: "pass", False: "FAIL", None: "info"}[f.ok]
        note = f" ({f.note})" if f.note else ""
        lines.append(
            f"| {f.name} | {f.value} | {f.reference} | {ratio} | {f.goal} | "
            f"{result}{note} |"
        )
    lines.append("")
    lines.append("Machine: " + "; ".join(f"{k}: {v}" for k, v in facts.items()))
    lines.append(f"Command: `{command}`")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k/100k only")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/billfold-bench"))
    parser.add_argument(
        "--pg", default=os.environ.get(
            "BILLFOLD_BENCH_DATABASE", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pages", type=int, default=200, help="requests per page")
    parser.add_argument("--pdfs", type=int, default=40, help="invoice PDFs timed")
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--no-dlt", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 2)
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
