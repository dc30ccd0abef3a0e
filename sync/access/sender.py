"""The outbox's sender thread: one per process (each web worker, ``billfold run``).

The portal's views write mail into the outbox (``sync.access.outbox``) in the same transaction as
the event that causes it, then ``kick()`` this sender, which sends in a background
thread, so a response never waits on (or reveals) SMTP. Sign-in requests go through
whole: the form queues a request for every address, known or not, and the sender
decides whether a link is due (``sync.access.link_requests``).

Under ``billfold serve`` (and any gunicorn running ``portal.wsgi``) each worker also
``start()``s the sender for good, as ``billfold run`` does: it polls the outbox every few seconds, so mail left
by a restart or waiting for a retry is sent; leases keep two senders (workers, nodes,
``billfold run``) from sending one message twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sqlalchemy import func, select

from schemas.tables import OUTBOX, utcnow
from sync.access.outbox import WAITING, deliver_due, due
from sync.config import Settings
from sync.log import event
from sync.store import Store

O = OUTBOX  # noqa: E741
POLL_SECONDS = 5.0  # not money


class OutboxSender:
    """One sender thread per process: woken by ``kick``, polling once ``start``ed.

    ``kick`` alone sends what is due and lets the thread end; ``start`` keeps it
    polling every ``poll_seconds`` for retries and for mail other processes queued.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        poll_seconds: float = POLL_SECONDS,  # not money
    ) -> None:
        self.settings = settings
        self.store = store
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._persistent = False
        self._stopped = False

    def start(self) -> None:
        """Keep sending for the life of the process (web workers)."""
        self._persistent = True
        self.kick()

    def stop(self, timeout: float = 10.0) -> None:  # not money
        """Stop the sender thread after the message it is sending (shutdown, tests)."""
        with self._lock:
            self._stopped = True
            self._wake.set()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def kick(self) -> None:
        """Send what is due now, in the background."""
        with self._lock:
            if self._stopped:
                return
            self._wake.set()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="billfold-mail", daemon=True
                )
                self._thread.start()

    def _waiting(self, *, free_only: bool = False) -> int:
        """Count mail due now (*free_only*: and held by no sender)."""
        now = utcnow()
        where = (
            due(now)
            if free_only
            else (O.c.state == WAITING) & (O.c.next_attempt_at <= now)
        )
        with self.store.read() as conn:
            return conn.execute(select(func.count()).where(where)).scalar_one()

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.clear()
            try:
                deliver_due(self.store, self.settings, self.owner)
                # Kicked only (no start()): done once nothing is due; retries wait
                # for the next kick or for a started sender (web workers, run).
                waiting = self._waiting(free_only=True)
            except Exception as exc:  # the database went away: log, try again later
                event("mail.sender_failed", logging.ERROR, error=repr(exc))
                waiting = 1
            if self._stopped:
                return
            if not waiting and not self._persistent:
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
                continue
            self._wake.wait(self.poll_seconds)

    def flush(self, timeout: float = 10.0) -> None:  # not money
        """Wait until nothing due waits in the outbox (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            deliver_due(self.store, self.settings, self.owner)
            if not self._waiting():
                break
            time.sleep(0.05)  # another sender holds a row: wait for its outcome
        with self._lock:
            thread = None if self._persistent else self._thread
        if thread is not None:  # a kicked thread ends once nothing is due
            thread.join(max(0.0, deadline - time.monotonic()))
