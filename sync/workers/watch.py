"""Watching folders: watchdog observers that only hand candidate file names on.

A change event says a file *may* be ready, never that it is: watchdog reports
``created`` when a copy starts, and even close-write can come too early when a writer
reopens the file. So the handler only tells the folder source which name changed (and
whether it was renamed into place); ``sync.workers.folder.StableFiles`` decides when it has
settled. Network shares often deliver no events at all: ``poll = true`` (or inotify
being unavailable) uses watchdog's polling observer, and the runner's periodic rescan
is a safety net for anything missed either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from sync.log import event

POLL_SECONDS = 1.0


class _Handler(FileSystemEventHandler):
    """Pass names of files changed directly in *folder* to *notice*."""

    def __init__(self, folder: Path, notice: Callable[[str, bool], None]) -> None:
        self.folder = os.path.normcase(str(folder))
        self.notice = notice

    def on_any_event(self, ev: FileSystemEvent) -> None:
        if ev.is_directory:
            return
        if ev.event_type == "moved":
            path, renamed = ev.dest_path, True
        elif ev.event_type in ("created", "modified", "closed"):
            path, renamed = ev.src_path, False
        else:
            return
        path = os.fsdecode(path)
        if os.path.normcase(os.path.dirname(path)) != self.folder:
            return  # processed/, failed/ or a file moved out
        self.notice(os.path.basename(path), renamed)


def start_observer(
    folder: Path, notice: Callable[[str, bool], None], *, poll: bool
) -> BaseObserver:
    """Watch *folder* (not its subfolders) and call ``notice(name, renamed)`` on changes.

    Raises OSError when the folder cannot be watched at all (it does not exist).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    handler = _Handler(folder, notice)
    if not poll:
        observer: BaseObserver = Observer()
        try:
            observer.schedule(handler, str(folder), recursive=False)
            observer.start()
            return observer
        except OSError as exc:
            # inotify watch or instance limits reached: fall back to listing.
            event("watch.polling", logging.WARNING, folder=str(folder), reason=str(exc))
            _stop(observer)
    observer = PollingObserver(timeout=POLL_SECONDS)
    observer.schedule(handler, str(folder), recursive=False)
    observer.start()
    return observer


def _stop(observer: BaseObserver) -> None:
    try:
        observer.stop()
        if observer.is_alive():
            observer.join()
    except RuntimeError:
        # The observer never started: there is nothing to stop.
        pass


def stop_observer(observer: BaseObserver) -> None:
    """Stop watching and wait for the observer's thread to end."""
    _stop(observer)
