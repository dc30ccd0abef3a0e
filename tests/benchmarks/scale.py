"""Scale-out imports: ``python -m tests.benchmarks.scale`` (prints figures; not a test).

Uploads ``--files`` exports (``--invoices`` each, Xero CSV, a different seed each) to a
bucket on a local S3 endpoint (moto's server mode, real HTTP), then times ``billfold run``
workers on one source until every object is applied: one worker, then two, on a fresh
store each time (PostgreSQL by default, ``--sqlite`` for SQLite), ``--repeat`` times,
interleaved. The clock runs from starting the workers to the last batch applied, so
both include a worker's start-up.

Then the takeover: two workers, one of them killed with SIGKILL in the middle of an
import (uncommitted), and the time from its death until another worker has applied the
object it held: once with the dead worker on this machine (its process is seen gone at
once), once as if on another machine (its own host name, so only its lease can tell).

    .venv/bin/python -m tests.benchmarks.scale
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

from sync.config import RunnerSettings
from sync.store import Store
from tests.benchmarks.generate import write_xero_csv
from tests.workers import (
    AWS_ENV,
    Worker,
    free_port,
    other_hosts_possible,
    wait_until,
    write_config,
)

PG = "postgresql://postgres@127.0.0.1:5432/test"


class _Settings:
    """What ``write_config`` reads: a data directory and a database URL."""

    def __init__(self, data_dir: Path, url: str) -> None:
        self.data_dir = data_dir
        self.resolved_database_url = url


def _exports(folder: Path, files: int, invoices: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(files):
        path = folder / f"export-{i:02d}-{invoices}.csv"
        if not path.exists():
            write_xero_csv(path, invoices, seed=1000 + i)
        paths.append(path)
    return paths


def _store_url(args: argparse.Namespace, work: Path, run: str) -> tuple[str, Any]:
    """A fresh, empty store; returns its URL and a function that drops it."""
    if args.sqlite:
        db = work / f"{run}.db"
        return f"sqlite:///{db}", lambda: db.unlink(missing_ok=True)
    schema = f"bench_scale_{run}_{uuid.uuid4().hex[:8]}"
    admin = Store(args.pg)
    with admin.engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with admin.engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()

    return f"{args.pg}?options=-csearch_path%3D{schema}", drop


def _upgrade(url: str) -> Store:
    from sync.store.migrate import upgrade

    store = Store(url)
    upgrade(store)
    return store


def _applied(store: Store) -> int:
    with store.read() as conn:
        return conn.execute(
            text("SELECT count(*) FROM import_batch WHERE status = 'applied'")
        ).scalar_one()


def _config(work: Path, run: str, url: str, endpoint: str, bucket: str) -> Path:
    data = work / run / "data"
    data.mkdir(parents=True, exist_ok=True)
    return write_config(
        work / run / "config.toml",
        _Settings(data, url),  # type: ignore[arg-type]
        [
            {
                "name": "bucket",
                "kind": "s3",
                "bucket": bucket,
                "prefix": "in/",
                "endpoint_url": endpoint,
                "region": "us-east-1",
                "schedule": "every 1 second",
            }
        ],
        runner={"retry_seconds": 1, "download_backoff_seconds": 0.1},
    )


def _span(store: Store) -> float:
    """Seconds from the first batch's start to the last one's end (start-up left out)."""
    with store.read() as conn:
        first, last = conn.execute(
            text("SELECT min(started_at), max(finished_at) FROM import_batch")
        ).one()
    return (last - first).total_seconds()


def timed_run(
    args, work, endpoint, bucket, workers: int, run: str
) -> tuple[float, float]:
    url, drop = _store_url(args, work, run)
    store = _upgrade(url)
    config = _config(work, run, url, endpoint, bucket)
    try:
        started = time.perf_counter()
        procs = [Worker(config, log=work / run / f"w{n}.log") for n in range(workers)]
        try:
            wait_until(
                lambda: _applied(store) >= args.files, 1800, "every object applied"
            )
            seconds = time.perf_counter() - started
            span = _span(store)
        finally:
            for proc in procs:
                proc.stop()
    finally:
        store.dispose()
        drop()
    return seconds, span


def takeover(args, work, endpoint, bucket, host: str | None, run: str) -> float:
    """Seconds from a worker's SIGKILL mid-import until its object is applied."""
    url, drop = _store_url(args, work, run)
    store = _upgrade(url)
    config = _config(work, run, url, endpoint, bucket)
    try:
        victim = Worker(
            config,
            log=work / run / "victim.log",
            env={"BILLFOLD_FAULT": "before_commit@2:kill"},
            host=host,
        )
        other = Worker(config, log=work / run / "other.log")
        try:
            wait_until(lambda: victim.proc.poll() is not None, 600, "the kill")
            died = time.perf_counter()
            with store.read() as conn:
                held = conn.execute(
                    text(
                        "SELECT id FROM file_claim WHERE state = 'claimed' "
                        "AND claimed_by LIKE :who"
                    ),
                    {"who": f"%:{victim.pid}"},
                ).scalar_one()
            wait_until(lambda: _claim_done(store, held), 600, "the object taken over")
            seconds = time.perf_counter() - died
            wait_until(lambda: _applied(store) >= args.files, 1800, "every object")
        finally:
            other.stop()
            victim.kill()
    finally:
        store.dispose()
        drop()
    return seconds


def _claim_done(store: Store, claim_id: int) -> bool:
    with store.read() as conn:
        state = conn.execute(
            text("SELECT state FROM file_claim WHERE id = :id"), {"id": claim_id}
        ).scalar_one()
    return state == "imported"


def _compare(args, size, backend, times, spans) -> None:
    one, two = statistics.median(times[1]), statistics.median(times[2])
    one_span, two_span = statistics.median(spans[1]), statistics.median(spans[2])
    print(
        f"{args.files} objects ({args.invoices} invoices each, {size / 1e6:.1f} MB), "
        f"{backend}, medians of {args.repeat}: 1 worker {one:.1f} s, 2 workers "
        f"{two:.1f} s from start (speed-up {one / two:.2f}x); first import to last "
        f"{one_span:.1f} s vs {two_span:.1f} s (speed-up {one_span / two_span:.2f}x)",
        flush=True,
    )


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--invoices", type=int, default=500, help="per export")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="SQLite, not PostgreSQL")
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/billfold-scale"))
    parser.add_argument("--no-takeover", action="store_true")
    args = parser.parse_args()
    os.environ.update(AWS_ENV)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    from moto.server import ThreadedMotoServer

    from sync.store.s3_client import s3_client

    work = args.workdir / uuid.uuid4().hex[:8]
    work.mkdir(parents=True)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = s3_client(endpoint, "us-east-1")
    bucket = "scale-bench"
    client.create_bucket(Bucket=bucket)
    exports = _exports(args.workdir / "exports", args.files, args.invoices)
    for path in exports:
        client.upload_file(str(path), bucket, f"in/{path.name}")
    size = sum(p.stat().st_size for p in exports)
    print(f"load before: {_uptime()}", flush=True)
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    times: dict[int, list[float]] = {1: [], 2: []}
    spans: dict[int, list[float]] = {1: [], 2: []}
    for r in range(args.repeat):
        for workers in (1, 2):
            seconds, span = timed_run(
                args, work, endpoint, bucket, workers, f"r{r}w{workers}"
            )
            times[workers].append(seconds)
            spans[workers].append(span)
            print(
                f"{workers} worker(s), run {r + 1}: {seconds:.1f} s from start "
                f"({span:.1f} s first import to last)",
                flush=True,
            )
    if args.repeat:
        _compare(args, size, backend, times, spans)
    if not args.no_takeover:
        lease = RunnerSettings().lease_seconds
        here = takeover(args, work, endpoint, bucket, None, "kill_here")
        print(f"takeover after kill -9, same machine: {here:.1f} s", flush=True)
        if other_hosts_possible():
            away = takeover(
                args, work, endpoint, bucket, "billfold-bench-b", "kill_away"
            )
            print(
                f"takeover after kill -9, another machine: {away:.1f} s "
                f"(lease {lease} s)",
                flush=True,
            )
    print(f"load after: {_uptime()}", flush=True)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
