"""Run every check CI runs: ``python -m tests`` (README's test command).

1. ruff check and ruff format --check;
2. mypy (configured in pyproject.toml, ``[tool.mypy]``) over the product code;
3. the whole pytest suite on SQLite and on PostgreSQL at 127.0.0.1:5432 (database
   ``test``; started or installed first when it is not running; if it still cannot be
   reached the run fails: tests that need PostgreSQL never skip, and a skipped test
   fails its pass): the two legs' parallel passes (pytest-xdist, ``-n auto`` from
   pyproject.toml) at the same time, then each leg's tests marked ``alone`` in one
   process (``--alone=only``), one after the other.

Extra arguments go to pytest (``python -m tests -k balances``). ``--sqlite-only`` skips
the PostgreSQL leg for a quick local loop; CI never passes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "BILLFOLD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


NO_TESTS_COLLECTED = 5  # pytest's exit code when the arguments select nothing


def step(
    title: str,
    cmd: list[str],
    env: dict[str, str] | None = None,
    ok: tuple[int, ...] = (0,),
) -> None:
    print(f"\n=== {title}: {' '.join(cmd)}", flush=True)
    started = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT, env=env)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"=== {title}: {'ok' if code in ok else f'FAILED (exit {code})'} in "
        f"{time.monotonic() - started:.1f}s (load average {load:.1f})",
        flush=True,
    )
    if code not in ok:
        sys.exit(code)


def parallel_passes(runs: list[tuple[str, list[str], dict[str, str]]]) -> None:
    """Run the legs' parallel passes at the same time. Most of their slow tests wait
    (browsers, worker processes, mail) rather than compute, so one leg alone keeps the
    machine half idle. Each pass's output is printed whole when it ends."""
    started = time.monotonic()
    failed = 0
    with ExitStack() as logs:
        running = []
        for title, cmd, env in runs:
            print(f"\n=== {title}: {' '.join(cmd)} (output when it ends)", flush=True)
            log = logs.enter_context(tempfile.TemporaryFile(mode="w+"))
            process = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
            )
            running.append((title, process, log))
        for title, process, log in running:
            code = process.wait()
            log.seek(0)
            print(f"\n=== {title}:", flush=True)
            shutil.copyfileobj(log, sys.stdout)
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            print(
                f"=== {title}: {'ok' if code == 0 else f'FAILED (exit {code})'} after "
                f"{time.monotonic() - started:.1f}s (load average {load:.1f})",
                flush=True,
            )
            failed = failed or code
    if failed:
        sys.exit(failed)


def alone_pass(name: str, python: str, args: list[str], env: dict[str, str]) -> None:
    """The tests marked ``alone`` of one leg, in one process (none selected is fine)."""
    step(
        f"pytest on {name}, tests that run alone",
        [python, "-m", "pytest", *args, "-n", "0", "--alone=only"],
        env=env,
        ok=(0, NO_TESTS_COLLECTED),
    )


def _postgres_up() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _run_quietly(cmd: str) -> None:
    subprocess.call(
        cmd, shell=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def ensure_postgres() -> None:
    """Start (or install, then start) the local PostgreSQL server if it is down."""
    if _postgres_up():
        return
    print("PostgreSQL is not answering at 127.0.0.1:5432; starting it", flush=True)
    if not shutil.which("pg_ctlcluster") and shutil.which("apt-get"):
        print("installing PostgreSQL with apt-get", flush=True)
        _run_quietly(
            "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql"
        )
    if shutil.which("pg_ctlcluster"):
        _run_quietly(
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | tail -n1) main start"
        )
    for _ in range(30):
        if _postgres_up():
            break
        time.sleep(1)
    else:
        sys.exit(
            "PostgreSQL at 127.0.0.1:5432 (database 'test', trust auth) cannot be reached and "
            "could not be started; CI needs it. See README, 'Running the tests'."
        )
    with __import__("psycopg").connect(
        PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'test'"
        ).fetchone():
            conn.execute("CREATE DATABASE test")


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests if it is missing."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return
    if shutil.which("apt-get"):
        print("installing Chromium with apt-get (browser tests need it)", flush=True)
        _run_quietly(
            "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium"
        )
    if not (shutil.which("chromium") or Path("/usr/bin/chromium").exists()):
        print("Chromium is not installed; the browser tests will fail", flush=True)


def pytest_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of the pytest passes: the leg sets the database, and compiled
    modules are kept (even where PYTHONDONTWRITEBYTECODE is set, as on this project's CI
    machine): every pytest process would otherwise compile and rewrite every test module
    again, about 5 s of CPU each, and a run starts a dozen."""
    dropped = ("BILLFOLD_TEST_DATABASE", "PYTHONDONTWRITEBYTECODE")
    return {k: v for k, v in base.items() if k not in dropped}


def main(argv: list[str]) -> None:
    sqlite_only = "--sqlite-only" in argv
    args = [a for a in argv if a != "--sqlite-only"]
    python = sys.executable
    step("ruff check", [python, "-m", "ruff", "check", "."])
    step("ruff format", [python, "-m", "ruff", "format", "--check", "."])
    step("mypy", [python, "-m", "mypy"])
    ensure_chromium()
    env = pytest_environment(os.environ)
    legs = {"SQLite": {**env, "BILLFOLD_TEST_DATABASE": "sqlite"}}
    if not sqlite_only:
        ensure_postgres()
        legs["PostgreSQL"] = {**env, "BILLFOLD_TEST_DATABASE": PG_URL}
    pytest = [python, "-m", "pytest", *args]
    parallel_passes([(f"pytest on {name}", pytest, e) for name, e in legs.items()])
    for name, leg_env in legs.items():
        alone_pass(name, python, args, leg_env)
    print("\nall checks passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
