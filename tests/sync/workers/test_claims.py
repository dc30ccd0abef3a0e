"""Claims and job locks: one winner, takeover of dead or expired holders, CAS updates."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import select, update

from schemas.tables import FILE_CLAIMS, JOB_LOCKS, utcnow
from sync.workers import claims

C = FILE_CLAIMS
L = JOB_LOCKS


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _set(store, claim_id, **values):
    with store.write(ledger=False) as conn:
        conn.execute(update(C).where(C.c.id == claim_id).values(**values))


def _row(store, claim_id):
    with store.read() as conn:
        return conn.execute(select(C).where(C.c.id == claim_id)).one()


def test_first_claim_wins_and_a_live_holder_keeps_it(store):
    first = claims.claim_file(store, "inbox", "a.csv", "sha-1", lease_seconds=60)
    again = claims.claim_file(store, "inbox", "a.csv", "sha-1", lease_seconds=60)
    other_version = claims.claim_file(
        store, "inbox", "a.csv", "sha-2", lease_seconds=60
    )

    assert first.won and first.claim.state == "claimed" and first.claim.attempts == 1
    assert first.claim.claimed_by == claims.worker_id()
    assert again.outcome == "held" and again.claim.id == first.claim.id
    assert other_version.won and other_version.claim.id != first.claim.id
    claims.let_go(first.claim)
    claims.let_go(other_version.claim)


def test_many_threads_racing_for_one_file_give_exactly_one_winner(store):
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def race() -> None:
        barrier.wait()
        got = claims.claim_file(store, "inbox", "race.csv", "sha", lease_seconds=60)
        outcomes.append(got.outcome)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["held"] * 7 + ["won"]
    with store.read() as conn:
        assert len(conn.execute(select(C)).all()) == 1


def test_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(store):
    got = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=600)
    claims.let_go(got.claim)
    _set(store, got.claim.id, claimed_by=f"{socket.gethostname()}:{_dead_pid()}")

    again = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=600)

    assert again.won
    assert again.claim.attempts == 2
    assert again.claim.claimed_by == claims.worker_id()
    claims.let_go(again.claim)


def test_claim_on_another_host_waits_for_its_lease(store):
    got = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=600)
    claims.let_go(got.claim)
    _set(store, got.claim.id, claimed_by="elsewhere.example:4242")
    assert (
        claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=60).outcome
        == "held"
    )

    _set(store, got.claim.id, lease_until=utcnow() - timedelta(seconds=1))
    taken = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=60)

    assert taken.won and taken.claim.attempts == 2
    claims.let_go(taken.claim)


def test_a_pid_reused_by_this_process_does_not_look_alive(store):
    got = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=600)
    claims.let_go(got.claim)  # e.g. a crashed worker whose pid this process now has

    again = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=600)

    assert again.won and again.claim.attempts == 2
    claims.let_go(again.claim)


def test_finished_claims_are_done_and_a_moved_file_dropped_again_is_reclaimed(store):
    got = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=60)
    assert claims.finish_claim(store, got.claim, "imported", batch_id=7)
    done = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=60)
    assert done.outcome == "done" and done.claim.batch_id == 7
    claims.mark_moved(store, got.claim, "/inbox/processed/7-a.csv")

    assert (
        claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=60).outcome
        == "done"
    )
    gone = claims.claim_file(
        store, "inbox", "a.csv", "sha", lease_seconds=60, reclaim_moved=lambda: False
    )
    assert gone.outcome == "done"  # the file seen was the one just moved away
    again = claims.claim_file(
        store, "inbox", "a.csv", "sha", lease_seconds=60, reclaim_moved=lambda: True
    )

    assert again.won
    assert (again.claim.state, again.claim.moved_to, again.claim.batch_id) == (
        "claimed",
        None,
        None,
    )
    claims.let_go(again.claim)


def test_failed_claim_is_retried_only_when_due(store):
    got = claims.claim_file(store, "bucket", "k.csv", "etag", lease_seconds=60)
    later = utcnow() + timedelta(hours=1)
    claims.finish_claim(
        store, got.claim, "failed", batch_id=None, error="cut", retry_at=later
    )
    claims.let_go(got.claim)
    assert (
        claims.claim_file(store, "bucket", "k.csv", "etag", lease_seconds=60).outcome
        == "done"
    )
    with store.read() as conn:
        assert ("k.csv", "etag") not in claims.finished_keys(conn, "bucket")

    _set(store, got.claim.id, retry_at=utcnow() - timedelta(seconds=1))
    retry = claims.claim_file(store, "bucket", "k.csv", "etag", lease_seconds=60)

    assert retry.won and retry.claim.attempts == 2 and retry.claim.retry_at is None
    claims.finish_claim(
        store, retry.claim, "failed", batch_id=None, error="cut", retry_at=None
    )
    with store.read() as conn:
        assert ("k.csv", "etag") in claims.finished_keys(conn, "bucket")  # given up


def test_finishing_a_claim_another_worker_took_over_changes_nothing(store):
    mine = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=60)
    _set(store, mine.claim.id, attempts=2, claimed_by="elsewhere.example:1")

    assert not claims.finish_claim(store, mine.claim, "imported", batch_id=1)
    assert _row(store, mine.claim.id).state == "claimed"


def test_heartbeat_renews_only_what_this_process_holds(store):
    mine = claims.claim_file(store, "inbox", "a.csv", "sha", lease_seconds=5)
    theirs = claims.claim_file(store, "inbox", "b.csv", "sha", lease_seconds=5)
    claims.let_go(theirs.claim)
    before = _row(store, mine.claim.id).lease_until

    claims.renew_leases(store, 600)

    assert _row(store, mine.claim.id).lease_until > before + timedelta(seconds=500)
    assert _row(store, theirs.claim.id).lease_until < before + timedelta(seconds=60)
    claims.let_go(mine.claim)


def test_job_lock_is_held_once_and_released(store):
    holder = claims.acquire_lock(store, "poll:bucket", 60)
    assert holder is not None
    assert claims.acquire_lock(store, "poll:bucket", 60) is None
    ran = []
    assert not claims.run_exclusively(store, "poll:bucket", 60, lambda: ran.append(1))

    claims.release_lock(store, "poll:bucket", holder)

    assert claims.run_exclusively(store, "poll:bucket", 60, lambda: ran.append(1))
    assert ran == [1]
    with store.read() as conn:
        assert conn.execute(select(L)).all() == []  # released after the run


def test_job_lock_of_a_dead_or_expired_holder_is_taken(store):
    now = utcnow()
    with store.write(ledger=False) as conn:
        conn.execute(
            L.insert().values(
                name="housekeeping",
                holder=f"{socket.gethostname()}:{_dead_pid()}/abcd",
                acquired_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )
        conn.execute(
            L.insert().values(
                name="poll:b",
                holder="elsewhere.example:1/abcd",
                acquired_at=now,
                expires_at=now - timedelta(seconds=1),
            )
        )
        conn.execute(
            L.insert().values(
                name="poll:c",
                holder="elsewhere.example:1/abcd",
                acquired_at=now,
                expires_at=now + timedelta(hours=1),
            )
        )

    assert claims.acquire_lock(store, "housekeeping", 60) is not None
    assert claims.acquire_lock(store, "poll:b", 60) is not None
    assert claims.acquire_lock(store, "poll:c", 60) is None
