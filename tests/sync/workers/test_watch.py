"""Watchers only hand names on: inotify and the polling observer report the same things."""

from __future__ import annotations

import os
import threading

import pytest

from sync.workers.watch import start_observer, stop_observer
from tests.workers import wait_until


class Seen:
    def __init__(self) -> None:
        self.events: list[tuple[str, bool]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, renamed: bool) -> None:
        with self.lock:
            self.events.append((name, renamed))

    def names(self) -> set[str]:
        with self.lock:
            return {n for n, _ in self.events}

    def renamed(self) -> set[str]:
        with self.lock:
            return {n for n, r in self.events if r}


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_observer_reports_names_in_the_folder_only(tmp_path, poll):
    inbox = tmp_path / "inbox"
    (inbox / "processed").mkdir(parents=True)
    seen = Seen()
    observer = start_observer(inbox, seen, poll=poll)
    try:
        (inbox / "written.csv").write_bytes(b"a,b\n")
        (inbox / "upload.csv.part").write_bytes(b"a,b\n")
        wait_until(lambda: "upload.csv.part" in seen.names(), 60)
        os.rename(inbox / "upload.csv.part", inbox / "upload.csv")
        (inbox / "processed" / "1-old.csv").write_bytes(b"x")
        wait_until(lambda: {"written.csv", "upload.csv"} <= seen.names(), 60)
    finally:
        stop_observer(observer)

    assert "1-old.csv" not in seen.names()
    assert "upload.csv" in seen.renamed()


def test_a_missing_folder_cannot_be_watched(tmp_path):
    with pytest.raises(FileNotFoundError):
        start_observer(tmp_path / "not-mounted", Seen(), poll=False)
