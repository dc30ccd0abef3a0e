"""Which source an uploaded export continues.

Identity is the source's: a Xero export imported under a source other than the one
holding that Xero organisation's records makes a second copy of every customer. So an
upload goes to the source whose records the file continues: the same adapter family
(``xero_csv`` and ``xero_api`` are both ``xero``; the family is the adapter's name up
to its first ``_``) and records or customers that source already holds.

``read_identities`` takes one cheap streaming pass over the start of the file (its
first ``SAMPLE`` records: ids, customer keys and names, nothing kept but those);
``rank_sources`` scores every configured source and every source with batches in the
store; ``choose_source`` picks the best when it is clear and otherwise leaves the choice
to the admin, saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, func, select

from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import AdapterError, FileRejected
from adapters.manifest import is_manifest
from adapters.registry import detect_adapter, get_adapter
from adapters.toolkit.text import decode_head
from schemas.records import AccountRecord, DocumentRecord, PaymentRecord
from schemas.tables import (
    ACCOUNTS,
    CREDIT_NOTES,
    IMPORT_BATCHES,
    INVOICES,
    PAYMENTS,
)
from sync.config import Settings
from sync.engine.documents.incoming import sniff_content_type
from sync.engine.intake import Intake
from sync.engine.namesakes import fold
from sync.log import event
from sync.store import Store
from sync.store.bulk import IN_CHUNK, chunked

SAMPLE = 2000  # records read to score a file; enough to tell, cheap on any size
CLEARLY = 2  # the best source needs this many times the runner-up's evidence
STREAM_ROWS = 5000
NOT_EXPORTS = ("document", "manifest")
RECORD_TABLES = {
    "invoice": INVOICES,
    "credit_note": CREDIT_NOTES,
    "payment": PAYMENTS,
}
A = ACCOUNTS
B = IMPORT_BATCHES


def family(adapter: str | None) -> str | None:
    """Return the family of an adapter: ``xero_api`` -> ``xero``, ``generic_csv`` ->
    ``generic`` (None for no adapter, a document or a manifest)."""
    if not adapter or adapter in NOT_EXPORTS:
        return None
    return adapter.split("_", 1)[0]


@dataclass
class Identities:
    """What an export says about where it comes from (a sample of its start)."""

    adapter: str | None
    records: dict[str, set[str]] = field(default_factory=dict)  # kind -> external ids
    customers: dict[str, str] = field(default_factory=dict)  # key -> folded name

    @property
    def record_count(self) -> int:
        return sum(len(ids) for ids in self.records.values())


@dataclass(frozen=True)
class Candidate:
    """One source scored against a file."""

    source: str
    families: tuple[str, ...]  # adapter families of its configuration and batches
    same_family: bool
    records: int  # records of the sample this source holds
    customers: int  # customers of the sample it knows (by key or name)
    sampled_records: int
    sampled_customers: int

    @property
    def evidence(self) -> int:
        return self.records + self.customers

    @property
    def continues(self) -> bool:
        """Same family and something in common: the file carries on this source."""
        return self.same_family and self.evidence > 0

    @property
    def reason(self) -> str:
        """What the file has in common with this source, as an admin reads it."""
        formats = ", ".join(self.families) or "nothing imported yet"
        return (
            f"format {formats}; {self.records} of {self.sampled_records} records and "
            f"{self.customers} of {self.sampled_customers} customers already there"
        )


@dataclass(frozen=True)
class Choice:
    """The source an upload goes to (None: the admin must choose) and why."""

    source: str | None
    reason: str
    adapter: str | None
    candidates: tuple[Candidate, ...]


def read_identities(
    settings: Settings, intake: Intake, adapter: str | None = None
) -> Identities:
    """Detect the file's adapter and read the ids of its first ``SAMPLE`` records.

    A file its adapter cannot read with the default options is tried with each
    configured source's adapter, date order and column names; what cannot be read at
    all scores by nothing but its format.
    """
    if sniff_content_type(intake.head):
        return Identities("document")
    text = decode_head(intake.head, intake.encoding)
    if is_manifest(text):
        return Identities("manifest")
    head = Head(intake.name, intake.head, text)
    try:
        detected = (get_adapter(adapter) if adapter else detect_adapter(head)).name
    except FileRejected:
        detected = None
    export = ExportFile(
        intake.stored_path, intake.name, intake.encoding, size=intake.size
    )
    for name, options in _readings(settings, adapter or detected):
        found = Identities(name)
        try:
            _sample(get_adapter(name)().parse(export, options), found)
        except FileRejected:
            continue
        if found.record_count or found.customers:
            return found
    return Identities(adapter or detected)


def _readings(
    settings: Settings, detected: str | None
) -> Iterator[tuple[str, ParseOptions]]:
    """The (adapter, options) to try: the detected adapter with default options, then
    each configured source's way of reading a file."""
    seen = set()
    currency = settings.default_currency
    for source in (None, *settings.sources):
        named = source.adapter if source and source.adapter != "auto" else detected
        if named is None or (detected and named != detected):
            continue
        date_order = (source.date_order or None) if source else None
        columns = dict(source.columns) if source else {}
        key = (named, date_order, tuple(sorted(columns.items())))
        if key not in seen:
            seen.add(key)
            yield named, ParseOptions(date_order, columns, currency)


def _sample(items: Iterator[object], found: Identities) -> None:
    taken = 0
    try:
        for item in items:
            if isinstance(item, DocumentRecord | PaymentRecord):
                kind = item.kind if isinstance(item, DocumentRecord) else "payment"
                found.records.setdefault(kind, set()).add(item.external_id.strip())
                _customer(item.account, found)
                taken += 1
                if taken >= SAMPLE:
                    break
            elif isinstance(item, AccountRecord):
                _customer(item, found)
    except (FileRejected, AdapterError):
        return  # what was read before the problem still counts
    except Exception as exc:  # an adapter's own bug: the import itself reports it
        event("source_match.unreadable", logging.WARNING, error=repr(exc))
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _customer(account: AccountRecord, found: Identities) -> None:
    if account.key and len(found.customers) < SAMPLE:
        found.customers.setdefault(account.key.strip(), fold(account.name or ""))


def rank_sources(
    conn: Connection, settings: Settings, found: Identities
) -> list[Candidate]:
    """Score every configured source and every source with batches, best first."""
    families: dict[str, set[str]] = {s.name: set() for s in settings.sources}
    for s in settings.sources:
        named = family(s.adapter if s.adapter != "auto" else None)
        if named or s.kind in ("xero", "quickbooks"):
            families[s.name].add(named or s.kind)
    for batch in conn.execute(
        select(B.c.source, B.c.adapter)
        .where(B.c.status.in_(("applied", "published", "staged")))
        .distinct()
    ):
        named = family(batch.adapter)
        families.setdefault(batch.source, set())
        if named:
            families[batch.source].add(named)
    records = _records_held(conn, families, found.records)
    customers = _customers_known(conn, found.customers)
    mine = family(found.adapter)
    ranked = [
        Candidate(
            source=name,
            families=tuple(sorted(fams)),
            same_family=mine is not None and mine in fams,
            records=records.get(name, 0),
            customers=customers.get(name, 0),
            sampled_records=found.record_count,
            sampled_customers=len(found.customers),
        )
        for name, fams in families.items()
    ]
    ranked.sort(key=lambda c: (-c.continues, -c.evidence, -c.same_family, c.source))
    return ranked


def _records_held(
    conn: Connection, sources: Iterable[str], records: dict[str, set[str]]
) -> dict[str, int]:
    """How many of the sampled record ids each source holds (by its unique index)."""
    held: dict[str, int] = {}
    for kind, ids in records.items():
        table = RECORD_TABLES[kind]
        stmt = select(func.count()).where(
            table.c.source == bindparam("source"),
            table.c.external_id.in_(bindparam("ids", expanding=True)),
        )
        for source in sources:
            for chunk in chunked(sorted(ids), IN_CHUNK):
                n = conn.execute(stmt, {"source": source, "ids": list(chunk)})
                held[source] = held.get(source, 0) + n.scalar_one()
    return held


def _customers_known(conn: Connection, customers: dict[str, str]) -> dict[str, int]:
    """How many of the sampled customers each source knows, by key or by name."""
    if not customers:
        return {}
    names = set(customers.values())
    keys: dict[str, set[str]] = {}
    named: dict[str, set[str]] = {}
    rows = conn.execute(
        select(A.c.source, A.c.external_key, A.c.name).execution_options(
            yield_per=STREAM_ROWS
        )
    )
    for row in rows:
        if row.external_key in customers:
            keys.setdefault(row.source, set()).add(row.external_key)
        folded = fold(row.name)
        if folded in names:
            named.setdefault(row.source, set()).add(folded)
    return {
        source: sum(
            1
            for key, name in customers.items()
            if key in keys.get(source, ()) or name in named.get(source, ())
        )
        for source in keys.keys() | named.keys()
    }


def choose_source(
    store: Store, settings: Settings, intake: Intake, adapter: str | None = None
) -> Choice:
    """Return the source *intake* continues, or None with the ranking to ask with."""
    found = read_identities(settings, intake, adapter)
    with store.read() as conn:
        ranked = rank_sources(conn, settings, found)
    return decide(ranked, found.adapter)


def decide(ranked: Iterable[Candidate], adapter: str | None) -> Choice:
    """Pick the candidate the file clearly continues, else explain why it cannot."""
    ranked = tuple(ranked)
    going = [c for c in ranked if c.continues]
    if not going:
        what = f"a {adapter} file" if adapter else "this file"
        return Choice(
            None,
            f"no source holds any of the records or customers of {what} in the same "
            "format family",
            adapter,
            ranked,
        )
    best = going[0]
    if len(going) > 1 and best.evidence < CLEARLY * going[1].evidence:
        return Choice(
            None,
            f"sources {best.source} and {going[1].source} both hold records or "
            "customers of this file",
            adapter,
            ranked,
        )
    return Choice(best.source, f"the file continues it: {best.reason}", adapter, ranked)
