"""Webhook calls from Xero and QuickBooks: verify, summarise, record, ask for a pull.

Both systems sign the raw body: Xero in ``x-xero-signature``, QuickBooks in
``intuit-signature``, each ``base64(HMAC-SHA256(key, body))`` with the app's webhook key
(Xero) or verifier token (QuickBooks), compared in constant time. A call is refused,
before anything in it is read, when it is too large (413), unsigned or signed with no
configured key (401); a signed body that is not the system's JSON is a 400. Refusals
are counted by system and reason (``webhook_refusals``, shown in ``/metrics``); nothing
from a refused body is kept, logged or echoed.

Xero's intent-to-receive check sends signed calls with no events, some signed wrongly
on purpose: the answer is 200 for a right signature and 401 for a wrong one, with an
empty body either way. An accepted call is matched to its source by the organisation
it names (``tenantId``, ``realmId``; ``sync.pulls.hook_config``), recorded as a summary
(``webhook_events``: counts, kinds and ids that look like ids, never the signature) and
turned into a pull request (``sync.pulls.requests``), in one small transaction. The pull
itself runs in a worker: the call is answered at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert
from sqlalchemy.dialects import postgresql, sqlite

from schemas.tables import WEBHOOK_EVENTS, WEBHOOK_REFUSALS, utcnow
from sync.log import event
from sync.pulls.hook_config import HookTarget
from sync.pulls.requests import request_pull

MAX_BODY_BYTES = (
    1 << 20
)  # Xero and QuickBooks send a few KiB; anything near this is not them
SIGNATURE_HEADERS = {"xero": "x-xero-signature", "quickbooks": "intuit-signature"}
REASONS = (
    "too_large", "unsigned", "no_key", "bad_signature", "malformed",
    "unknown_organisation",
)  # fmt: skip
RESOURCES_KEPT = 50  # ids kept per call in a summary
_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_WORD = re.compile(r"[A-Za-z0-9._\-]{1,40}")


class Refused(Exception):
    """A webhook call billfold will not act on: the HTTP status and the counted reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Change:
    """What one call says changed for one source."""

    target: HookTarget
    events: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # "INVOICE UPDATE" -> count
    resources: list[str] = field(default_factory=list)  # "INVOICE 6d0f..." (ids only)

    def add(self, entity: Any, operation: Any, ident: Any) -> None:
        self.events += 1
        kind = f"{_word(entity)} {_word(operation)}"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if len(self.resources) < RESOURCES_KEPT and isinstance(ident, str | int):
            text = str(ident)
            if _ID.fullmatch(text):
                self.resources.append(f"{_word(entity)} {text}")

    def summary(self) -> str:
        return json.dumps(
            {"events": self.events, "kinds": self.kinds, "resources": self.resources},
            sort_keys=True,
        )


@dataclass
class Call:
    """An accepted call: what changed per source, and events for no known organisation."""

    changes: list[Change]
    unmatched: int = 0


def signature(key: bytes, body: bytes) -> str:
    """The signature the systems send: base64 of HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def verify(
    targets: Iterable[HookTarget], body: bytes, sent: str | None
) -> list[HookTarget]:
    """Return the targets whose key signed *body*; refuse an unsigned or wrong call."""
    if not sent:
        raise Refused(401, "unsigned")
    targets = list(targets)
    if not targets:
        raise Refused(401, "no_key")
    given = sent.strip().encode("utf-8", "replace")
    signed = [
        t
        for t in targets
        if hmac.compare_digest(signature(t.key, body).encode(), given)
    ]
    if not signed:
        raise Refused(401, "bad_signature")
    return signed


def read_call(kind: str, body: bytes, signed: list[HookTarget]) -> Call:
    """Summarise a verified body per source; a body that is not the system's is a 400."""
    try:
        payload = json.loads(body, parse_float=Decimal)  # never a float
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "malformed") from None
    notices = _xero(payload) if kind == "xero" else _quickbooks(payload)
    if notices is None:
        raise Refused(400, "malformed")
    call = Call(changes=[])
    by_source: dict[str, Change] = {}
    for organisation, entity, operation, ident in notices:
        target = _match(signed, organisation)
        if target is None:
            call.unmatched += 1
            continue
        change = by_source.get(target.source)
        if change is None:
            change = by_source[target.source] = Change(target)
            call.changes.append(change)
        change.add(entity, operation, ident)
    return call


def record_call(conn: Connection, call: Call) -> list[int]:
    """Record each source's events and ask for its pull; return the pull request ids."""
    requested = []
    for change in call.changes:
        summary = change.summary()
        request_id = request_pull(conn, change.target.source, "webhook", summary)
        conn.execute(
            insert(WEBHOOK_EVENTS).values(
                source=change.target.source,
                received_at=utcnow(),
                summary=summary,
                pull_request_id=request_id,
            )
        )
        requested.append(request_id)
        event(
            "webhook.accepted",
            source=change.target.source,
            events=change.events,
            pull_request=request_id,
        )
    return requested


def count_refusal(conn: Connection, system: str, reason: str, n: int = 1) -> None:
    """Add *n* to the refusal counter of *system* and *reason* (no body, no address)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    R = WEBHOOK_REFUSALS
    now = utcnow()
    statement = dialect.insert(R).values(
        system=system, reason=reason, count=n, last_at=now
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[R.c.system, R.c.reason],
            set_={"count": R.c.count + n, "last_at": now},
        )
    )
    event("webhook.refused", logging.WARNING, system=system, reason=reason)


# -- the two systems' bodies ---------------------------------------------------------

Notice = tuple[Any, Any, Any, Any]  # organisation, entity, operation, id


def _xero(payload: Any) -> list[Notice] | None:
    """``{"events": [{"tenantId", "eventCategory", "eventType", "resourceId"}], ...}``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return None
    found = []
    for item in payload["events"]:
        if not isinstance(item, dict):
            return None
        found.append(
            (item.get("tenantId"), item.get("eventCategory"), item.get("eventType"),
             item.get("resourceId"))
        )  # fmt: skip
    return found


def _quickbooks(payload: Any) -> list[Notice] | None:
    """Classic ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities":
    [{"name", "id", "operation"}]}}]}`` or the CloudEvents list (``intuitaccountid``,
    ``type`` ``qbo.invoice.updated.v1``, ``intuitentityid``)."""
    found: list[Notice] = []
    if isinstance(payload, list):
        for item in payload:
            if not isinstance(item, dict):
                return None
            parts = str(item.get("type", "")).split(".")
            entity, operation = (parts[1], parts[2]) if len(parts) >= 3 else ("", "")
            found.append(
                (
                    item.get("intuitaccountid"),
                    entity,
                    operation,
                    item.get("intuitentityid"),
                )
            )
        return found
    if not isinstance(payload, dict):
        return None
    notifications = payload.get("eventNotifications")
    if not isinstance(notifications, list):
        return None
    for note in notifications:
        if not isinstance(note, dict):
            return None
        change = note.get("dataChangeEvent")
        entities = change.get("entities") if isinstance(change, dict) else None
        if not isinstance(entities, list):
            return None
        for entity in entities:
            if not isinstance(entity, dict):
                return None
            found.append(
                (note.get("realmId"), entity.get("name"), entity.get("operation"),
                 entity.get("id"))
            )  # fmt: skip
    return found


def _match(signed: list[HookTarget], organisation: Any) -> HookTarget | None:
    """The signed target for *organisation*: its own, else one that names none."""
    name = str(organisation) if isinstance(organisation, str | int) else ""
    for target in signed:
        if target.organisation and target.organisation == name:
            return target
    for target in signed:
        if not target.organisation:
            return target
    return None


def _word(value: Any) -> str:
    text = str(value) if isinstance(value, str | int) else ""
    return text if _WORD.fullmatch(text) else "?"
