"""Send mail off the request path, so a response never waits on (or reveals) SMTP.

A sign-in request for a known address sends mail and one for an unknown address does
not; doing the send in the background keeps both answers equally fast.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from sync.config import Settings
from sync.log import event
from sync.mail import MailError, Message, send


class Mailer:
    """A small background pool that sends messages and logs failures."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="billfold-mail"
        )
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, message: Message) -> None:
        """Queue *message* for sending."""
        future = self._pool.submit(self._send, message)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

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
