"""What imports and workers keep: batches, rejected rows, file claims, job locks, source
state, API connections, documents manifests and the scheduler's job store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from schemas.tables.columns import when


class ImportBatch(SQLModel, table=True):
    """One file's trip through the pipeline and what it did."""

    __tablename__ = "import_batch"
    __table_args__ = (Index("ix_import_batch_source_started", "source", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    file_name: str
    sha256: str = Field(index=True)
    size: int = Field(sa_type=BigInteger)
    adapter: str | None = None
    status: str  # applied, duplicate, rejected, failed, staged, published, discarded
    reason: str | None = None
    mode: str = "incremental"
    encoding: str | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: str = Field(default="[]", sa_type=Text)  # JSON list of strings
    as_of: datetime | None = when()
    started_at: datetime = when(required=True)
    finished_at: datetime | None = when()
    stored_path: str | None = None
    duplicate_of_id: int | None = None
    diff: str | None = Field(default=None, sa_type=Text)  # JSON, for staged batches
    published_batch_id: int | None = None


class RowError(SQLModel, table=True):
    """A rejected record of a batch: where it was, what was wrong, what was expected."""

    __tablename__ = "row_error"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("import_batch.id", ondelete="CASCADE"), index=True
        )
    )
    line: int | None = None
    record: str | None = None
    column_name: str | None = None
    value: str | None = None
    reason: str


class FileClaim(SQLModel, table=True):
    """A worker's claim on one version of one file from a source: exactly once.

    One row per (source, file key, signature): a folder file's name and SHA-256, or an
    S3 object's key and ETag (with its LastModified: the export's as-of time, and the
    order objects are taken in, also after a takeover). The row is inserted (its own
    small transaction) before the file is imported, so of several workers exactly one
    wins it; the others skip the file. ``state`` goes claimed -> imported | duplicate |
    rejected | failed. A claim whose lease ran out, or whose holder (``host:pid``) is a
    dead process on this host, may be taken over; a failed one is retried from
    ``retry_at`` (``NULL``: given up).
    """

    __tablename__ = "file_claim"
    __table_args__ = (
        UniqueConstraint("source", "file_key", "signature"),
        Index("ix_file_claim_source_state", "source", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str
    file_key: str  # folder: the file's name in the inbox; s3: the object key
    signature: str  # folder: SHA-256 of the bytes; s3: the ETag
    state: str = "claimed"  # claimed, imported, duplicate, rejected, failed
    claimed_by: str  # host:pid of the worker holding (or last holding) it
    lease_until: datetime = when(required=True)
    attempts: int = 1
    batch_id: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    retry_at: datetime | None = when()
    size: int | None = Field(default=None, sa_type=BigInteger)
    claimed_at: datetime = when(required=True)
    finished_at: datetime | None = when()
    moved_to: str | None = None  # folder: where the file went (processed/ or failed/)
    last_modified: datetime | None = when()  # s3: the object's LastModified (as-of)


class JobLock(SQLModel, table=True):
    """A lease on a scheduled job, so two workers never run the same job at once."""

    __tablename__ = "job_lock"

    name: str = Field(primary_key=True)
    holder: str  # host:pid/token of the run holding it
    acquired_at: datetime = when(required=True)
    expires_at: datetime = when(required=True)


class SourceState(SQLModel, table=True):
    """What the workers last saw of a source (``billfold status``)."""

    __tablename__ = "source_state"

    source: str = Field(primary_key=True)
    last_poll_at: datetime | None = when()
    last_success_at: datetime | None = when()
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = when()
    files_pending: int | None = None
    updated_by: str | None = None


class ApiConnection(SQLModel, table=True):
    """An API source's connection: its tokens (encrypted), state and pull cursor.

    ``state`` is ``connected``, ``revoked`` (the service refused the tokens: not
    retried until an admin reconnects) or ``disconnected``. ``cursor`` is JSON: the
    watermarks of the last successful pull and the page a pull under way reached.
    """

    __tablename__ = "api_connection"

    source: str = Field(primary_key=True)
    kind: str
    state: str = "connected"
    tenant: str | None = None  # Xero tenant id or QuickBooks realm id
    access_token: bytes | None = Field(default=None, sa_type=LargeBinary)  # Fernet
    access_expires_at: datetime | None = when()
    refresh_token: bytes | None = Field(default=None, sa_type=LargeBinary)  # Fernet
    refreshed_at: datetime | None = when()
    auth_state: str | None = None  # the Connect flow's state, hashed
    cursor: str | None = Field(default=None, sa_type=Text)
    last_pull_at: datetime | None = when()
    last_success_at: datetime | None = when()
    last_error: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime | None = when()


class ManifestEntry(SQLModel, table=True):
    """One row of a documents manifest: which account and record a file belongs to.

    Kept until the file (a Document) and the account or record it names are both in the
    store; ``state`` is pending, linked or ignored (the document was linked before the
    manifest arrived), with ``reason`` saying why it waits or was ignored.
    """

    __tablename__ = "manifest_entry"
    __table_args__ = (Index("ix_manifest_entry_file", "source", "file_name"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    batch_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("import_batch.id", ondelete="CASCADE"),
            index=True,
            nullable=False,
        )
    )
    line: int
    file_name: str
    account_ref: str | None = None
    record_ref: str | None = None
    kind: str = "other"
    state: str = "pending"  # pending, linked, ignored
    reason: str | None = None
    document_id: int | None = Field(default=None, index=True)
    created_at: datetime = when(required=True)
    linked_at: datetime | None = when()


# APScheduler 3's job store table (sync.schedule), declared here with exactly the
# columns ``SQLAlchemyJobStore`` creates so the migrations own it like every other table.
SchedulerJob = Table(
    "scheduler_job",
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
