"""Pulling from QuickBooks Online: a first full read, then change data capture.

The first pull reads each entity (Customer, Invoice, CreditMemo, Payment) with the
query endpoint over the window ``MetaData.LastUpdatedTime <= <pull start>``, in pages
(``STARTPOSITION``/``MAXRESULTS``, 1,000 a page); each page is its own batch and the
cursor moves after each, so a pull cut off resumes at its page. The window is counted
before and after its read and read again if it shrank (``_read_window``). Later pulls ask the
change data capture endpoint (``/cdc?entities=...&changedSince=<last pull start>``),
one answer holding every change, deletions (``"status": "Deleted"``) included. CDC
looks back at most 30 days: a source not pulled for longer reads everything again.
An answer holding 1,000 objects of an entity (CDC's most) is cut short: that entity's
rest is read with the query endpoint over the narrower window the answer left
(``LastUpdatedTime`` after the last change it held). ``minorversion`` is pinned so
the JSON keeps the shape the adapter (``adapters.quickbooks_api``) reads.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.tables import utcnow
from sync.log import event
from sync.pulls.errors import NotConnected, PullError
from sync.pulls.pull import Puller

ENTITIES = ("Customer", "Invoice", "CreditMemo", "Payment")
MINOR_VERSION = "75"
PAGE_SIZE = 1000
CDC_MAX = 1000
CDC_LOOK_BACK = timedelta(days=30)
REREADS = 3  # reads again of a window that shrank while it was read
HEADERS = {"Accept": "application/json"}


def _stamp(value: datetime) -> str:
    """A naive-UTC time as QuickBooks queries write it (with its offset)."""
    return value.replace(microsecond=0).isoformat() + "+00:00"


def _utc(value: str) -> datetime:
    """A stamp (with its offset) as naive UTC."""
    when = datetime.fromisoformat(value)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when


def _json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PullError(f"QuickBooks sent {what} that is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PullError(f"QuickBooks sent {what} that is not a JSON object")
    if "Fault" in data:
        raise PullError(f"QuickBooks refused {what}: {json.dumps(data['Fault'])[:300]}")
    return data


def _base(p: Puller) -> str:
    if not p.tenant:
        raise NotConnected(
            f'source {p.name!r} has no realm_id yet: use "Connect QuickBooks" on the '
            "admin Connections page"
        )
    return f"{p.source.api_base}/{p.tenant}"


def _window(upto: str, after: str | None) -> str:
    where = f"MetaData.LastUpdatedTime <= '{upto}'"
    return f"MetaData.LastUpdatedTime > '{after}' AND {where}" if after else where


def _ask(p: Puller, query: str, label: str) -> tuple[dict[str, Any], bytes]:
    answer = p.get(f"{_base(p)}/query", {"query": query, "minorversion": MINOR_VERSION},
                   HEADERS)  # fmt: skip
    data = _json(answer.body, label)
    return data.get("QueryResponse") or {}, answer.body


def _query(
    p: Puller, entity: str, upto: str, after: str | None, position: int
) -> tuple[list[Any], bytes, str]:
    """One page of *entity* changed in (after, upto]: its items, the body, a label."""
    query = (  # entity is one of ENTITIES; the times are ours (_stamp), not the service's
        f"SELECT * FROM {entity} WHERE {_window(upto, after)} ORDERBY Id "  # noqa: S608 (not SQL: a QuickBooks query built from constants)
        f"STARTPOSITION {position} MAXRESULTS {PAGE_SIZE}"
    )
    label = f"{entity} from {position}"
    response, body = _ask(p, query, label)
    items = response.get(entity) or []
    if not isinstance(items, list):
        raise PullError(f"QuickBooks sent {label} without a list of {entity}")
    return items, body, label


def _count(p: Puller, entity: str, upto: str, after: str | None) -> int:
    """How many of *entity* the window holds now."""
    query = f"SELECT COUNT(*) FROM {entity} WHERE {_window(upto, after)}"  # noqa: S608 (as above)
    response, _ = _ask(p, query, f"the count of {entity}")
    total = response.get("totalCount")
    if not isinstance(total, int):
        raise PullError(f"QuickBooks sent the count of {entity} without a totalCount")
    return total


def _read_window(
    p: Puller, cursor: dict[str, Any], key: str, entities: tuple[str, ...],
    upto: str, after: str | None,
) -> None:  # fmt: skip
    """Read *entities* over (after, upto] page by page, resuming from ``cursor[key]``.

    A record changed while the window is read leaves it (its LastUpdatedTime passes
    *upto*; the next change capture brings it back), and every record after it moves
    up one position, so one of those would be skipped for good. Nothing enters a
    window that ends in the past, so each entity's window is counted before and after
    its read; if it shrank, the entity is read again from the start (records read
    twice are unchanged), at most ``REREADS`` times.
    """
    state = dict(cursor.get(key) or {})
    start = entities.index(state["entity"]) if state.get("entity") in entities else 0
    for index, entity in enumerate(entities[start:], start):
        resumed = index == start and bool(state)
        position = int(state.get("position") or 1) if resumed else 1
        before = state.get("count") if resumed else None
        rereads = int(state.get("rereads") or 0) if resumed else 0
        if not isinstance(before, int):
            before = _count(p, entity, upto, after)
        while True:
            items, body, label = _query(p, entity, upto, after, position)
            if items:
                position += len(items)
                p.import_page(body, label, {**cursor, key: {
                    "entity": entity, "position": position, "count": before,
                    "rereads": rereads}})  # fmt: skip
            if len(items) == PAGE_SIZE:
                continue
            now = _count(p, entity, upto, after)
            if now >= before:
                break
            if rereads >= REREADS:
                event("pull.window_moving", logging.WARNING, source=p.name,
                      entity=entity, rereads=rereads)  # fmt: skip
                break
            event("pull.window_shrank", source=p.name, entity=entity,
                  before=before, now=now)  # fmt: skip
            position, before, rereads = 1, now, rereads + 1
    cursor.pop(key, None)


def _first_pull(p: Puller, cursor: dict[str, Any]) -> None:
    started = cursor.get("started") or _stamp(utcnow())
    cursor["started"] = started
    _read_window(p, cursor, "first", ENTITIES, started, None)
    p.save_cursor({"cdc_since": started})


def _cdc_documents(data: dict[str, Any]) -> dict[str, list[Any]]:
    """The objects of a CDC answer by entity."""
    out: dict[str, list[Any]] = {}
    for response in data.get("CDCResponse") or []:
        for part in (response or {}).get("QueryResponse") or []:
            for entity, items in (part or {}).items():
                if isinstance(items, list):
                    out.setdefault(entity, []).extend(items)
    return out


def _cdc(p: Puller, since: str) -> None:
    asked = _stamp(utcnow())
    params = {"entities": ",".join(ENTITIES), "changedSince": since,
              "minorversion": MINOR_VERSION}  # fmt: skip
    answer = p.get(f"{_base(p)}/cdc", params, HEADERS)
    data = _json(answer.body, "the change data capture answer")
    changes = _cdc_documents(data)
    cursor: dict[str, Any] = {"cdc_since": since}
    if any(changes.values()):
        import_cdc(p, answer.body, data, changes, cursor)
    full = tuple(e for e in ENTITIES if len(changes.get(e, [])) >= CDC_MAX)
    if full:  # the answer was cut at CDC's most: read the rest with queries
        stamps = [d for e in full for i in changes[e] if (d := _changed(i)) is not None]
        newest = _stamp(max(stamps, default=_utc(since)))
        event("pull.cdc_full", logging.WARNING, source=p.name, entities=",".join(full))
        _read_window(p, cursor, "narrow", full, asked, newest)
    p.save_cursor({"cdc_since": asked})


def import_cdc(
    p: Puller, body: bytes, data: dict[str, Any], changes: dict[str, list[Any]],
    cursor: dict[str, Any],
) -> None:  # fmt: skip
    """Import a CDC answer: whole when the adapter reads CDCResponse, else per entity
    as query answers (deleted objects are then left out and counted in the log)."""
    from adapters.base import Head
    from adapters.quickbooks_api import QuickBooksApi

    head = Head("changes.json", body[:4096], body[:4096].decode("utf-8", "replace"))
    if QuickBooksApi.detect(head):
        p.import_page(body, "changes", cursor)
        return
    for entity in ENTITIES:
        live = [i for i in changes.get(entity, []) if not _deleted(i)]
        deleted = len(changes.get(entity, [])) - len(live)
        if deleted:
            event("pull.deletes_skipped", logging.WARNING, source=p.name,
                  entity=entity, count=deleted)  # fmt: skip
        if live:
            doc = {"QueryResponse": {entity: live, "startPosition": 1,
                                     "maxResults": len(live)}, "time": data.get("time")}  # fmt: skip
            p.import_page(
                json.dumps(doc, indent=2).encode(), f"{entity} changes", cursor
            )


def _changed(item: Any) -> datetime | None:
    """When an object last changed (naive UTC); its stamp is re-written, never passed on."""
    try:
        return _utc(str(item["MetaData"]["LastUpdatedTime"]))
    except (KeyError, TypeError, ValueError):
        return None


def _deleted(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("status", "")).lower() == "deleted"


def pull_quickbooks(p: Puller) -> None:
    """Pull once: finish (or start) the first full read, else ask for the changes."""
    cursor = p.cursor()
    since = cursor.get("cdc_since")
    if since and _utc(since) < utcnow() - CDC_LOOK_BACK:
        event("pull.full_again", source=p.name, reason="last pull over 30 days ago")
        since = None
        cursor = {}
    if not since or "first" in cursor or "started" in cursor:
        _first_pull(p, cursor)
        return
    _cdc(p, since)
