"""Leases in the database: exactly-once file claims and job locks shared by workers.

Several ``billfold run`` processes (on one machine or many) may watch the same inbox
and poll the same bucket. Before a worker imports a file it inserts a claim row for
(source, file key, signature) in its own small committed transaction; the unique
constraint lets exactly one insert win, and the losers skip the file. The import itself
stays one pipeline transaction; the claim is marked done after it. Should a worker die
between the two, the pipeline's SHA-256 duplicate check makes the retry harmless.

A claim is taken over when its lease ran out, or at once when its holder is a process
on this machine that no longer exists (``kill -9``, OOM). Every takeover is a
compare-and-set on ``attempts``, so two workers can never both win it.

Job locks work the same way: a ``job_lock`` row per scheduled job, taken with a
conditional UPDATE (expired or dead holder) or an INSERT that ignores conflicts, so two
schedulers never run the same job at once. One mechanism serves SQLite and PostgreSQL
alike and a crashed holder's lock simply expires; a session-scoped PostgreSQL advisory
lock would need a connection held open for the whole job and has no SQLite twin.

Leases held by this process are renewed by ``renew_leases`` (the runner's heartbeat).
Times are naive UTC from each worker's clock: keep the machines' clocks in sync.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from schemas.tables import FILE_CLAIMS, JOB_LOCKS, utcnow
from sync.errors import StoreError
from sync.log import event
from sync.store import Store

C: Table = FILE_CLAIMS
L: Table = JOB_LOCKS

CLAIMED = "claimed"
IMPORTED = "imported"
DUPLICATE = "duplicate"
REJECTED = "rejected"
FAILED = "failed"
FINAL_STATES = (IMPORTED, DUPLICATE, REJECTED, FAILED)
# A listed file nobody holds yet: a claim with no holder whose lease has run out, so
# any worker takes it (``claim_file``) exactly as it takes over a crashed worker's.
LISTED = "listed"

# Claims and job locks this process holds (so a reused pid is not mistaken for us).
_held_claims: set[int] = set()
_held_locks: dict[str, str] = {}  # holder token -> job name
_held_mutex = threading.Lock()


def worker_id() -> str:
    """Return this process's name in claims: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    stat = Path(f"/proc/{pid}/stat")
    try:
        # A killed child its parent has not reaped yet is a zombie: dead for us.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def holder_alive(holder: str, *, claim_id: int | None = None) -> bool:
    """Return False only when *holder* is certainly gone (a dead process on this host).

    A holder on another machine cannot be checked: its lease decides.
    """
    worker = holder.split("/", 1)[0]
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid != os.getpid():
        return _pid_alive(pid)
    with _held_mutex:
        if claim_id is not None:
            return claim_id in _held_claims
        return holder in _held_locks


def _insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless it conflicts with a unique key; return True if inserted."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    # rowcount is not reliable for INSERT ... ON CONFLICT on every driver; RETURNING is.
    return conn.execute(stmt).first() is not None


# -- file claims ----------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A claim row as read back."""

    id: int
    source: str
    file_key: str
    signature: str
    state: str
    claimed_by: str
    lease_until: datetime
    attempts: int
    batch_id: int | None
    last_error: str | None
    retry_at: datetime | None
    moved_to: str | None
    finished_at: datetime | None
    last_modified: datetime | None = None  # s3: the object's LastModified

    def orphaned(self, now: datetime | None = None) -> bool:
        """True when whoever holds (or last finished) this claim is gone."""
        now = now or utcnow()
        return self.lease_until < now or not holder_alive(
            self.claimed_by, claim_id=self.id
        )


def _claim_select() -> Any:
    return select(
        C.c.id, C.c.source, C.c.file_key, C.c.signature, C.c.state, C.c.claimed_by,
        C.c.lease_until, C.c.attempts, C.c.batch_id, C.c.last_error, C.c.retry_at,
        C.c.moved_to, C.c.finished_at, C.c.last_modified,
    )  # fmt: skip


def _claim(row: Any) -> Claim:
    """A Claim from a row of ``_claim_select`` (its columns in the fields' order)."""
    return Claim(*row)


def _claim_row(conn: Connection, **where: Any) -> Claim | None:
    stmt = _claim_select()
    for column, value in where.items():
        stmt = stmt.where(C.c[column] == value)
    row = conn.execute(stmt).first()
    return None if row is None else _claim(row)


@dataclass(frozen=True)
class ClaimResult:
    """What trying to claim a file gave: ``won`` (ours now), ``held`` or ``done``."""

    outcome: str
    claim: Claim

    @property
    def won(self) -> bool:
        return self.outcome == "won"


def claim_file(
    store: Store,
    source: str,
    file_key: str,
    signature: str,
    *,
    lease_seconds: int,
    size: int | None = None,
    last_modified: datetime | None = None,
    reclaim_moved: Callable[[], bool] | None = None,
) -> ClaimResult:
    """Claim one version of one file for this worker, in its own committed transaction.

    ``won``: this worker holds it (a new claim, a takeover of a dead or expired holder's,
    or a failed one due for retry). ``held``: another live worker has it. ``done``: it
    is finished. A finished claim whose file was already moved away is claimed afresh
    when *reclaim_moved* (asked only after the move was seen recorded) says the file is
    there again: the same bytes dropped again under the same name. Asking earlier could
    mistake the file another worker is just moving for a new one. *last_modified* (an
    S3 object's) is kept on the claim, so a takeover imports it with the same as-of time
    and in the same order.
    """
    me = worker_id()
    now = utcnow()
    lease = now + timedelta(seconds=lease_seconds)
    held: int | None = None
    try:
        with store.write(ledger=False) as conn:
            inserted = _insert_ignore(
                conn,
                C,
                {
                    "source": source,
                    "file_key": file_key,
                    "signature": signature,
                    "state": CLAIMED,
                    "claimed_by": me,
                    "lease_until": lease,
                    "attempts": 1,
                    "size": size,
                    "claimed_at": now,
                    "last_modified": last_modified,
                },
            )
            row = _claim_row(
                conn, source=source, file_key=file_key, signature=signature
            )
            assert row is not None
            if inserted:
                # Counted as held before the commit makes it visible, so no other
                # thread of this process can see it unheld (and take it over).
                held = _hold(row.id)
                return ClaimResult("won", row)
            takeover = (
                (row.state == CLAIMED and row.orphaned(now))
                or (
                    row.state == FAILED
                    and row.retry_at is not None
                    and row.retry_at <= now
                )
                or (
                    reclaim_moved is not None
                    and row.state in FINAL_STATES
                    and row.moved_to is not None
                    and reclaim_moved()
                )
            )
            if not takeover:
                return ClaimResult("held" if row.state == CLAIMED else "done", row)
            changed = conn.execute(
                update(C)
                .where(
                    C.c.id == row.id,
                    C.c.attempts == row.attempts,
                    C.c.state == row.state,
                )
                .values(
                    state=CLAIMED,
                    claimed_by=me,
                    lease_until=lease,
                    attempts=row.attempts + 1,
                    claimed_at=now,
                    retry_at=None,
                    moved_to=None,
                    batch_id=None,
                    finished_at=None,
                    size=size,
                    last_modified=last_modified or row.last_modified,
                )
            ).rowcount
            fresh = _claim_row(conn, id=row.id)
            assert fresh is not None
            if changed != 1:
                return ClaimResult("held" if fresh.state == CLAIMED else "done", fresh)
            held = _hold(fresh.id)
    except BaseException:
        if held is not None:
            _forget(held)
        raise
    if row.claimed_by != LISTED:
        event(
            "claim.taken_over",
            source=source,
            file=file_key,
            previous=row.claimed_by,
            state=row.state,
            attempt=fresh.attempts,
        )
    return ClaimResult("won", fresh)


def list_files(
    store: Store,
    source: str,
    files: list[tuple[str, str, int | None, datetime | None]],
) -> int:
    """Record files a source lists, (key, signature, size, last modified) each, as
    claims nobody holds yet; return how many were new.

    Listing runs under the source's job lock; importing does not: every worker takes
    listed files one by one with ``claim_file`` (``waiting_claims`` finds them).
    """
    now = utcnow()
    lapsed = now - timedelta(seconds=1)
    added = 0
    with store.write(ledger=False) as conn:
        for key, signature, size, last_modified in files:
            added += _insert_ignore(
                conn,
                C,
                {
                    "source": source,
                    "file_key": key,
                    "signature": signature,
                    "state": CLAIMED,
                    "claimed_by": LISTED,
                    "lease_until": lapsed,
                    "attempts": 0,
                    "size": size,
                    "claimed_at": now,
                    "last_modified": last_modified,
                },
            )
    return added


def step_back(store: Store, claim: Claim) -> None:
    """Give a held claim back unimported (listed again: any worker may take it)."""
    lapsed = utcnow() - timedelta(seconds=1)
    with store.write(ledger=False) as conn:
        conn.execute(
            update(C)
            .where(
                C.c.id == claim.id,
                C.c.attempts == claim.attempts,
                C.c.state == CLAIMED,
            )
            .values(claimed_by=LISTED, lease_until=lapsed)
        )
    _forget(claim.id)


def _hold(claim_id: int) -> int:
    with _held_mutex:
        _held_claims.add(claim_id)
    return claim_id


def _forget(claim_id: int) -> None:
    with _held_mutex:
        _held_claims.discard(claim_id)


def finish_claim(
    store: Store,
    claim: Claim,
    state: str,
    *,
    batch_id: int | None,
    error: str | None = None,
    retry_at: datetime | None = None,
    lease_seconds: int = 0,
) -> bool:
    """Record how the claimed file ended (``failed`` with *retry_at* will be retried).

    The claim keeps a short lease (*lease_seconds*) so no other worker moves the file
    while this one is about to; after that an unmoved file counts as orphaned. Returns
    False when another worker took the claim over meanwhile (its record stands).
    """
    assert state in FINAL_STATES
    now = utcnow()
    with store.write(ledger=False) as conn:
        changed = conn.execute(
            update(C)
            .where(
                C.c.id == claim.id,
                C.c.attempts == claim.attempts,
                C.c.state == CLAIMED,
            )
            .values(
                state=state,
                batch_id=batch_id,
                last_error=error,
                retry_at=retry_at,
                finished_at=now,
                lease_until=now + timedelta(seconds=lease_seconds),
            )
        ).rowcount
    if changed != 1:
        _forget(claim.id)
        event(
            "claim.lost",
            logging.WARNING,
            source=claim.source,
            file=claim.file_key,
            reason="another worker took the claim over",
        )
    return changed == 1


def mark_moved(store: Store, claim: Claim, moved_to: str) -> None:
    """Record where a folder file went (processed/ or failed/); the claim is let go."""
    with store.write(ledger=False) as conn:
        conn.execute(update(C).where(C.c.id == claim.id).values(moved_to=moved_to))
    _forget(claim.id)


def let_go(claim: Claim) -> None:
    """Stop counting *claim* as held by this process (it stays in the database)."""
    _forget(claim.id)


def drop_claim(store: Store, claim: Claim, reason: str) -> None:
    """Delete a claim on a file that vanished before it was imported."""
    with store.write(ledger=False) as conn:
        conn.execute(
            delete(C).where(C.c.id == claim.id, C.c.attempts == claim.attempts)
        )
    _forget(claim.id)
    event("claim.dropped", source=claim.source, file=claim.file_key, reason=reason)


def finished_keys(conn: Connection, source: str) -> set[tuple[str, str]]:
    """Return (file key, signature) of every claim of *source* not to be tried again."""
    rows = conn.execute(
        select(C.c.file_key, C.c.signature, C.c.state, C.c.retry_at).where(
            C.c.source == source, C.c.state != CLAIMED
        )
    )
    return {
        (r.file_key, r.signature)
        for r in rows
        if r.state != FAILED or r.retry_at is None
    }


def open_claims(conn: Connection, source: str) -> list[Claim]:
    """Return claims of *source* still claimed, or failed and waiting for a retry."""
    rows = conn.execute(
        _claim_select().where(
            C.c.source == source,
            or_(
                C.c.state == CLAIMED,
                and_(C.c.state == FAILED, C.c.retry_at.is_not(None)),
            ),
        )
    )
    return [_claim(row) for row in rows]


def renew_leases(store: Store, lease_seconds: int) -> None:
    """Extend the leases of every claim and job lock this process holds."""
    with _held_mutex:
        claim_ids = sorted(_held_claims)
        holders = dict(_held_locks)
    if not claim_ids and not holders:
        return
    until = utcnow() + timedelta(seconds=lease_seconds)
    with store.write(ledger=False) as conn:
        if claim_ids:
            conn.execute(
                update(C)
                .where(C.c.id.in_(claim_ids), C.c.state == CLAIMED)
                .values(lease_until=until)
            )
        for holder, name in holders.items():
            conn.execute(
                update(L)
                .where(L.c.name == name, L.c.holder == holder)
                .values(expires_at=until)
            )


# -- job locks ------------------------------------------------------------------------


def acquire_lock(store: Store, name: str, lease_seconds: int) -> str | None:
    """Take job lock *name*; return the holder token, or None if another run holds it."""
    holder = f"{worker_id()}/{secrets.token_hex(4)}"
    now = utcnow()
    until = now + timedelta(seconds=lease_seconds)
    with _held_mutex:  # held before any commit can show it (see claim_file)
        _held_locks[holder] = name
    try:
        with store.write(ledger=False) as conn:
            if _insert_ignore(
                conn,
                L,
                {
                    "name": name,
                    "holder": holder,
                    "acquired_at": now,
                    "expires_at": until,
                },
            ):
                return holder
            row = conn.execute(
                select(L.c.holder, L.c.expires_at).where(L.c.name == name)
            ).first()
            if row is None:
                taken = 0  # released between our insert and read: the next run gets it
            elif row.expires_at >= now and holder_alive(row.holder):
                taken = 0
            else:
                taken = conn.execute(
                    update(L)
                    .where(L.c.name == name, L.c.holder == row.holder)
                    .values(holder=holder, acquired_at=now, expires_at=until)
                ).rowcount
    except BaseException:
        _drop_holder(holder)
        raise
    if taken != 1:
        _drop_holder(holder)
        return None
    return holder


def _drop_holder(holder: str) -> None:
    with _held_mutex:
        _held_locks.pop(holder, None)


def release_lock(store: Store, name: str, holder: str) -> None:
    """Give job lock *name* back (only if *holder* still holds it)."""
    with store.write(ledger=False) as conn:
        conn.execute(delete(L).where(L.c.name == name, L.c.holder == holder))
    _drop_holder(holder)


def run_exclusively(
    store: Store, name: str, lease_seconds: int, fn: Callable[[], object]
) -> bool:
    """Run *fn* while holding job lock *name*; return False if another run holds it."""
    try:
        holder = acquire_lock(store, name, lease_seconds)
    except StoreError as exc:
        event("job.lock_failed", logging.WARNING, job=name, error=str(exc))
        return False
    if holder is None:
        event("job.skipped", job=name, reason="another worker is running it")
        return False
    try:
        fn()
    finally:
        try:
            release_lock(store, name, holder)
        except StoreError as exc:  # the lease expires on its own
            event("job.unlock_failed", logging.WARNING, job=name, error=str(exc))
    return True
