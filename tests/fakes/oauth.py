"""A small OAuth 2 token endpoint and HTTP server shared by the fake Xero and QuickBooks.

The server records every request (method, path, query, headers, body) so a test can
prove what billfold sent; ``fail_next`` queues error answers (429 with Retry-After,
5xx) for the next data requests.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: str
    at: float  # not money: monotonic time


@dataclass
class TokenState:
    """The tokens the fake has issued and the rules it applies."""

    client_id: str
    client_secret: str
    access_seconds: int = 1800
    rotate: bool = True
    revoked: bool = False
    access: dict[str, float] = field(default_factory=dict)  # not money: token -> expiry
    refresh: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    grants: list[str] = field(default_factory=list)

    def issue(self, *, with_refresh: bool) -> dict[str, Any]:
        token = "acc-" + secrets.token_urlsafe(24)
        self.access[token] = time.monotonic() + self.access_seconds
        out: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                               "expires_in": self.access_seconds}  # fmt: skip
        if with_refresh:
            new = "ref-" + secrets.token_urlsafe(24)
            self.refresh.add(new)
            out["refresh_token"] = new
        return out

    def new_refresh_token(self) -> str:
        token = "ref-" + secrets.token_urlsafe(24)
        self.refresh.add(token)
        return token

    def valid(self, authorization: str | None) -> bool:
        if self.revoked or not authorization or not authorization.startswith("Bearer "):
            return False
        expiry = self.access.get(authorization.removeprefix("Bearer "))
        return expiry is not None and expiry > time.monotonic()

    def expire_access(self) -> None:
        for token in self.access:
            self.access[token] = 0.0  # not money


class FakeServer:
    """A threaded HTTP server; subclasses answer ``data`` requests."""

    token_path = "/token"

    def __init__(self, tokens: TokenState) -> None:
        self.tokens = tokens
        self.seen: list[Seen] = []
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _answer(
                self, status: int, body: bytes, headers: dict[str, str]
            ) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                seen = Seen(self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()},
                            body, time.monotonic())  # fmt: skip
                with fake.lock:
                    fake.seen.append(seen)
                    status, out, headers = fake.route(seen)
                self._answer(status, out, headers)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle
            do_DELETE = _handle
            do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for the loop's next look (0.5 s by
        # default, paid by every test that starts a fake).
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(
        self, status: int, retry_after: str | None = None, times: int = 1
    ) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.failures.extend([(status, headers)] * times)

    def route(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
        if seen.method == "POST" and seen.path == self.token_path:
            return self.token(seen)
        if self.failures:
            status, headers = self.failures.pop(0)
            return status, b'{"error": "busy"}', headers
        return self.data(seen)

    def data(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
        raise NotImplementedError

    def token(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
        t = self.tokens
        form = dict(urllib.parse.parse_qsl(seen.body))
        auth = seen.headers.get("authorization", "")
        expected = base64.b64encode(
            f"{t.client_id}:{t.client_secret}".encode()
        ).decode()
        if auth != f"Basic {expected}":
            return _json(401, {"error": "invalid_client"})
        grant = form.get("grant_type", "")
        t.grants.append(grant)
        if t.revoked:
            return _json(400, {"error": "invalid_grant"})
        if grant == "client_credentials":
            return _json(200, t.issue(with_refresh=False))
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in t.refresh:
                return _json(400, {"error": "invalid_grant"})
            if t.rotate:
                t.refresh.discard(old)
                return _json(200, t.issue(with_refresh=True))
            out = t.issue(with_refresh=False)
            out["refresh_token"] = old
            return _json(200, out)
        if grant == "authorization_code":
            code = form.get("code", "")
            if code not in t.codes:
                return _json(400, {"error": "invalid_grant"})
            t.codes.discard(code)
            return _json(200, t.issue(with_refresh=True))
        return _json(400, {"error": "unsupported_grant_type"})


def _json(status: int, data: Any) -> tuple[int, bytes, dict[str, str]]:
    return status, json.dumps(data).encode(), {"Content-Type": "application/json"}


def json_answer(status: int, data: Any) -> tuple[int, bytes, dict[str, str]]:
    """A JSON answer as ``FakeServer.route`` returns it."""
    return _json(status, data)


Router = Callable[[Seen], tuple[int, bytes, dict[str, str]]]
