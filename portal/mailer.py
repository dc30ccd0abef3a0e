"""Send mail off the request path, so a response never waits on (or reveals) SMTP.

Sign-in requests go through here whole: the form queues a ``LinkRequest`` for every
address, known or not, and the worker decides whether a link is due, issues it and
sends it, or drops the request (sync.link_requests). Both answers do the same work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from sync.access.link_requests import LinkRequest, issue_requested_link
from sync.access.mail import MailError, Message, send
from sync.config import Settings
from sync.log import event
from sync.store import Store


class Mailer:
    """A small background pool that sends messages and logs failures."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._pool = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="billfold-mail"
        )
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, message: Message) -> None:
        """Queue *message* for sending."""
        self._queue(self._send, message)

    def request_link(self, request: LinkRequest) -> None:
        """Queue a sign-in link request (dropped there if no link is due)."""
        self._queue(self._issue_and_send, request)

    def _queue(self, job: Callable[[Any], None], item: Any) -> None:
        future = self._pool.submit(job, item)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _issue_and_send(self, request: LinkRequest) -> None:
        try:
            message = issue_requested_link(self.store, self.settings, request)
        except Exception as exc:  # no caller to raise to: log it, drop the request
            event("sign_in.failed", logging.ERROR, kind=request.kind, error=repr(exc))
            return
        if message is not None:
            self._send(message)

    def _send(self, message: Message) -> None:
        try:
            send(self.settings, message)
        except MailError as exc:
            event("mail.dropped", logging.ERROR, to=message.to, error=str(exc))

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def flush(self, timeout: float = 10.0) -> None:  # not money
        """Wait for queued messages (tests and shutdown)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)
