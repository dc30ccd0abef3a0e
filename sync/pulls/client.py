"""The HTTP client of API pulls: read-only, rate limited, patient with busy services.

Only two calls exist: ``get`` (data endpoints) and ``post_token`` (the token URL, and
nothing else): billfold never writes to the billing system. Calls to one tenant (a
Xero organisation, a QuickBooks company) pass a client-side limiter (Xero allows 60 a
minute, QuickBooks 500); one worker pulls a source at a time (the pull's job lock), so
a per-process limiter keeps the whole install under the limit. A 429 or 5xx answer,
a timeout or a dropped connection is tried again after the ``Retry-After`` the service
asked for, else an exponential backoff, each wait capped.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from schemas.tables import utcnow
from sync.log import event
from sync.pulls.errors import ConnectionRevoked, PullError

CALLS_PER_MINUTE = {"xero": 60, "quickbooks": 500}
TIMEOUT_SECONDS = 60.0  # not money
ATTEMPTS = 5
BACKOFF_SECONDS = 1.0  # not money: the first wait after a 5xx without Retry-After
MAX_WAIT_SECONDS = 120.0  # not money: no single wait is longer
WINDOW_SECONDS = 60.0  # not money


class RateLimiter:
    """At most *per_minute* calls in any 60 seconds (a sliding window)."""

    def __init__(
        self,
        per_minute: int,
        window: float = WINDOW_SECONDS,  # not money: seconds
    ) -> None:
        self.per_minute = per_minute
        self.window = window
        self._calls: deque[float] = deque()  # not money: monotonic times
        self._lock = threading.Lock()

    def wait(self, stopping: threading.Event | None = None) -> float:  # not money
        """Block until a call may be made; return how long it waited."""
        waited = 0.0  # not money
        while True:
            with self._lock:
                now = time.monotonic()
                while self._calls and now - self._calls[0] >= self.window:
                    self._calls.popleft()
                if len(self._calls) < self.per_minute:
                    self._calls.append(now)
                    return waited
                pause = self.window - (now - self._calls[0])
            if stopping is not None:
                if stopping.wait(pause):
                    raise PullError(
                        "the pull was stopped while waiting for the rate limit"
                    )
            else:
                time.sleep(pause)
            waited += pause


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(kind: str, tenant: str) -> RateLimiter:
    """The process's limiter of one tenant of one service."""
    with _limiters_lock:
        key = (kind, tenant)
        if key not in _limiters:
            _limiters[key] = RateLimiter(CALLS_PER_MINUTE[kind])
        return _limiters[key]


@dataclass(frozen=True)
class Answer:
    """A response: status, headers (lower-case names) and the body as returned."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def retry_after(value: str | None) -> float | None:  # not money
    """Seconds a ``Retry-After`` header asks to wait (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)  # not money
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return max(0.0, (when - utcnow()).total_seconds())


class ApiClient:
    """GETs to one service's data endpoints and POSTs to its token URL only."""

    def __init__(
        self,
        source: str,
        limiter: RateLimiter,
        *,
        stopping: threading.Event | None = None,
        timeout: float = TIMEOUT_SECONDS,  # not money
        attempts: int = ATTEMPTS,
        backoff: float | None = None,  # not money: default BACKOFF_SECONDS
        max_wait: float = MAX_WAIT_SECONDS,  # not money
    ) -> None:
        self.source = source
        self.limiter = limiter
        self.stopping = stopping or threading.Event()
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = BACKOFF_SECONDS if backoff is None else backoff
        self.max_wait = max_wait

    def get(
        self, url: str, params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:  # fmt: skip
        """GET *url* (with query *params*): a 2xx or 304 answer, else PullError.

        A 401 raises ``ConnectionRevoked`` at once (the caller refreshes the token
        and asks again).
        """
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        answer = self._send(_request(url, headers=dict(headers or {})))
        if answer.status == 401:
            raise ConnectionRevoked(f"{_where(url)} answered 401 Unauthorized")
        if answer.status >= 400 and answer.status != 304:
            raise PullError(f"{_where(url)} answered {answer.status}: {_said(answer)}")
        return answer

    def post_token(
        self, url: str, form: Mapping[str, str], client_id: str, secret: str
    ) -> dict[str, Any]:
        """POST a token request (HTTP Basic client auth); return the token JSON.

        A 400/401 ``invalid_grant`` or ``invalid_client`` raises ``ConnectionRevoked``.
        """
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        request = _request(
            url,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={
                "Authorization": f"Basic {basic}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        answer = self._send(request, limited=False)
        if answer.status in (400, 401):
            reason = _said(answer)
            raise ConnectionRevoked(
                f"the token endpoint {_where(url)} refused the connection ({reason})"
            )
        if answer.status >= 300:
            raise PullError(
                f"the token endpoint {_where(url)} answered {answer.status}"
            )
        try:
            data = answer.json()
        except ValueError as exc:
            raise PullError(f"the token endpoint {_where(url)} sent no JSON") from exc
        if not isinstance(data, dict) or not data.get("access_token"):
            raise PullError(f"the token endpoint {_where(url)} sent no access_token")
        return data

    def _send(self, request: urllib.request.Request, *, limited: bool = True) -> Answer:
        """Send, trying again after 429, 5xx and network errors."""
        last = ""
        for attempt in range(1, self.attempts + 1):
            if limited:
                self.limiter.wait(self.stopping)
            wait: float | None = None  # not money
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) URLs checked by the config)
                    return Answer(response.status, _headers(response), response.read())
            except urllib.error.HTTPError as exc:
                answer = Answer(exc.code, _headers(exc), exc.read())
                if exc.code != 429 and exc.code < 500:
                    return answer
                wait = retry_after(answer.headers.get("retry-after"))
                last = f"{exc.code}"
            except OSError as exc:  # URLError, timeouts, dropped connections
                last = str(getattr(exc, "reason", exc))
            if attempt == self.attempts:
                break
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1)
            wait = min(wait, self.max_wait)
            event(
                "pull.retry", logging.WARNING, source=self.source,
                url=_where(request.full_url), error=last, wait=round(wait, 3),
                attempt=attempt,
            )  # fmt: skip
            if self.stopping.wait(wait):
                raise PullError("the pull was stopped while waiting to try again")
        raise PullError(
            f"{_where(request.full_url)} failed after {self.attempts} attempts: {last}"
        )


def _request(url: str, **kwargs: Any) -> urllib.request.Request:
    """A request to an http(s) URL (never ``file:`` or another scheme)."""
    if not url.lower().startswith(("https://", "http://")):
        raise PullError(f"{url!r} is not an http(s) URL")
    return urllib.request.Request(url, **kwargs)  # noqa: S310 (scheme checked above)


def _headers(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def _where(url: str) -> str:
    """The URL without its query (which may name records, never secrets, but is long)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _said(answer: Answer) -> str:
    """What an error answer says, short: its OAuth ``error`` or first 200 characters."""
    try:
        data = answer.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])[:100]
    return answer.body[:200].decode("utf-8", "replace")
