"""Helpers for tests that run real ``billfold run`` workers and a real S3 endpoint.

Workers are subprocesses started as ``python -m sync`` from the checkout (so they run
this tree's code) against the test's own store. The S3 endpoint is moto's server mode
on a localhost port, reached over real HTTP; ``CuttingProxy`` sits in front of it to
cut object downloads halfway.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sync.config import Settings

ROOT = Path(__file__).resolve().parent.parent
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/billfold-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/billfold-test-aws-credentials",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def write_config(
    path: Path,
    settings: Settings,
    sources: list[dict[str, Any]],
    *,
    runner: dict[str, Any] | None = None,
    storage: dict[str, Any] | None = None,
) -> Path:
    """Write a TOML config using the test's store and data directory."""
    lines = [
        f"data_dir = {_toml(str(settings.data_dir))}",
        f"database_url = {_toml(settings.resolved_database_url)}",
        'secret_key = "test-secret-key"',
    ]
    for table, values in (("runner", runner), ("storage", storage)):
        if values:
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml(v)}" for k, v in values.items()]
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{k} = {_toml(v)}" for k, v in source.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLFOLD_")}
    env.update(AWS_ENV)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


class Worker:
    """A ``billfold run`` subprocess; its stderr goes to a log file the test can read."""

    def __init__(
        self,
        config: Path,
        *args: str,
        log: Path,
        env: dict[str, str] | None = None,
        host: str | None = None,
    ) -> None:
        """*host*: run the worker as if on another machine of that name (its own UTS
        namespace, so this machine cannot see whether it lives: its lease decides)."""
        self.log_path = log
        self._log = log.open("ab")
        command = [sys.executable, "-m", "sync", "--config", str(config), "run", *args]
        if host is not None:
            command = [
                "unshare", "--uts", "sh", "-c", f'hostname {host} && exec "$@"',
                "worker", *command,
            ]  # fmt: skip
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=worker_env(env),
            stdout=self._log,
            stderr=self._log,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 120.0) -> None:
        wait_until(
            lambda: text in self.log() or self.proc.poll() is not None,
            timeout,
            f"{text!r} in the worker's log",
        )
        assert text in self.log(), self.log()

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait; return the exit code."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> int:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.wait(30)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._log.close()


def run_once(config: Path, *, log: Path, env: dict[str, str] | None = None) -> int:
    """Run ``billfold run --once`` to the end; return its exit code."""
    with Worker(config, "--once", log=log, env=env) as worker:
        return worker.wait(180)


def other_hosts_possible() -> bool:
    """True when a worker can run under another host name (``Worker(host=...)``)."""
    try:
        done = subprocess.run(
            ["unshare", "--uts", "sh", "-c", "hostname billfold-probe"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def wait_until(
    predicate: Callable[[], Any], timeout: float = 120.0, what: str = "condition"
) -> Any:
    """Poll *predicate* until it is truthy; fail the test after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def slow_write(path: Path, data: bytes, chunks: int, pause: float) -> None:
    """Write *data* in place in *chunks* pieces with *pause* seconds between them."""
    size = -(-len(data) // chunks)
    with path.open("wb") as fh:
        for i in range(0, len(data), size):
            fh.write(data[i : i + size])
            fh.flush()
            os.fsync(fh.fileno())
            time.sleep(pause)


class CuttingProxy:
    """An HTTP relay in front of the S3 endpoint that can cut object downloads halfway.

    ``cut(key, times)`` makes the next *times* GETs of that object send the full
    Content-Length header but only half the body, then drop the connection.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self._cuts: dict[str, int] = {}
        self.cut_count = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items()}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                cut = self.command == "GET" and proxy._take_cut(self.path)
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                    ):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if cut:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )
        self._thread.start()

    def cut(self, key: str, times: int) -> None:
        with self._lock:
            self._cuts[key] = times

    def _take_cut(self, path: str) -> bool:
        target = path.split("?", 1)[0]
        with self._lock:
            for key, left in self._cuts.items():
                if left > 0 and target.endswith("/" + key):
                    self._cuts[key] = left - 1
                    self.cut_count += 1
                    return True
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
