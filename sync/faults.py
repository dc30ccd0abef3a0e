"""Fault injection points for crash and failure tests (off unless BILLFOLD_FAULT is set).

``BILLFOLD_FAULT=<point>[@<n>]:<action>`` makes the n-th time (default: first) the
pipeline passes ``<point>`` do ``<action>``: ``kill`` (SIGKILL this process, as a power
cut or OOM killer would), ``raise`` (an unexpected exception) or ``sleep=<seconds>``.
Points: ``chunk`` (after each chunk is written), ``before_commit``; in sources
(``sync.workers.sources``): ``claimed`` (a file's claim committed, import not started),
``imported`` (import committed, claim not yet marked), ``before_move`` (claim marked,
folder file not yet moved), ``moved`` (file moved, claim not yet told) and
``download_chunk`` (after each chunk of an S3 download); in notices
(``sync.access.notices``): ``notice_planned`` (a notice and its outbox row committed,
nothing sent yet); in API pulls (``sync.pulls.pull``): ``pulled_page`` (a page applied
and the pull's cursor moved past it).
"""

from __future__ import annotations

import logging
import os
import signal
import time

from sync.log import event

_hits: dict[str, int] = {}


class InjectedFault(RuntimeError):
    """The exception a ``raise`` fault throws."""


def hit(point: str) -> None:
    """Pass fault point *point*; do the configured action when it is due."""
    spec = os.environ.get("BILLFOLD_FAULT")
    if not spec:
        return
    target, _, action = spec.partition(":")
    name, _, nth = target.partition("@")
    if name != point:
        return
    _hits[point] = _hits.get(point, 0) + 1
    if _hits[point] != int(nth or 1):
        return
    if action == "kill":
        event("fault.injected", logging.WARNING, point=point, action="kill")
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise InjectedFault(f"injected fault at {point}")
    elif action.startswith("sleep="):
        # Logged first, so a test can wait for the pause to begin rather than guess.
        event("fault.injected", logging.WARNING, point=point, action=action)
        time.sleep(float(action.removeprefix("sleep=")))  # not money
