"""Pull requests: asked for once per source while waiting, taken by exactly one worker."""

from __future__ import annotations

import json
import threading
import time

from sqlalchemy import func, select

from schemas.tables import PULL_REQUESTS
from sync.pulls.requests import request_pull, take_requested, waiting_requests


def rows(store) -> int:
    with store.read() as conn:
        return conn.execute(
            select(func.count()).select_from(PULL_REQUESTS)
        ).scalar_one()


def test_a_waiting_request_is_not_asked_for_twice(store):
    with store.write(ledger=False) as conn:
        first = request_pull(conn, "xero", "webhook", '{"events": 1}')
        again = request_pull(conn, "xero", "webhook", '{"events": 2}')
        other = request_pull(conn, "qbo", "admin")
    assert first == again != other
    assert rows(store) == 2
    with store.read() as conn:
        assert waiting_requests(conn) == {"xero": 1, "qbo": 1}


def test_taking_claims_each_waiting_source_once_and_then_nothing(store):
    with store.write(ledger=False) as conn:
        request_pull(conn, "xero", "webhook")
        request_pull(conn, "qbo", "webhook")
    with store.write(ledger=False) as conn:
        assert take_requested(conn) == ["xero", "qbo"]
    with store.write(ledger=False) as conn:
        assert take_requested(conn) == []
        # A change after the take asks for a new pull.
        request_pull(conn, "xero", "webhook")
    with store.write(ledger=False) as conn:
        assert take_requested(conn) == ["xero"]
    assert rows(store) == 3


def test_detail_is_kept_as_json_text(store):
    with store.write(ledger=False) as conn:
        request_pull(conn, "a", "admin", "not json <b>")
        request_pull(conn, "b", "webhook", '{"events": 3}')
    with store.read() as conn:
        details = dict(
            conn.execute(select(PULL_REQUESTS.c.source, PULL_REQUESTS.c.detail)).all()
        )
    assert json.loads(details["a"]) == "not json <b>"
    assert json.loads(details["b"]) == {"events": 3}


def test_two_workers_never_take_the_same_request(store):
    """Requests arrive while two workers take them; every one is taken exactly once."""
    taken: list[list[str]] = [[], []]
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        try:
            while not stop.is_set():
                with store.write(ledger=False) as conn:
                    taken[slot] += take_requested(conn)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
            raise

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    sources = [f"source-{n}" for n in range(60)]
    for source in sources:
        with store.write(ledger=False) as conn:
            request_pull(conn, source, "webhook")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until every request was taken
        with store.read() as conn:
            if not waiting_requests(conn):
                break
        stop.wait(0.01)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    both = taken[0] + taken[1]
    assert sorted(both) == sorted(sources)  # each once: none twice, none lost
    assert rows(store) == len(sources)


def test_concurrent_requests_for_one_source_make_one_waiting_row(store):
    ids: list[int] = []
    barrier = threading.Barrier(4)

    def ask() -> None:
        barrier.wait()
        with store.write(ledger=False) as conn:
            ids.append(request_pull(conn, "xero", "webhook"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1 and len(ids) == 4
    assert rows(store) == 1
