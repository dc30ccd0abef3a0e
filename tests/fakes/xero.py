"""A fake Xero Accounting API: token endpoint, paged collections, If-Modified-Since.

Serves the collections of a Xero API JSON file (``sample_exports/xero_api``) under
``/api.xro/2.0/<Collection>``, ``where`` filters on Type and IsCustomer, ordered by
UpdatedDateUTC, ``page``/``pageSize`` paging, and checks the bearer token and the
``Xero-tenant-id`` header. ``/connections`` lists the organisations the login
connected, shaped as Xero's identity API answers (``organisations``).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.oauth import FakeServer, Seen, TokenState, json_answer

API = "/api.xro/2.0"
TENANT = "tenant-0001"
_MS = re.compile(r"/Date\((-?\d+)")


def _updated(item: dict[str, Any]) -> str:
    match = _MS.match(str(item.get("UpdatedDateUTC", "")))
    if not match:
        return ""
    return datetime.fromtimestamp(int(match[1]) / 1000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )  # not money


def organisation(tenant: str, name: str, kind: str = "ORGANISATION") -> dict[str, Any]:
    """One entry of Xero's ``GET /connections`` answer."""
    return {"id": f"conn-{tenant}", "authEventId": "auth-event-1", "tenantId": tenant,
            "tenantType": kind, "tenantName": name,
            "createdDateUtc": "2026-11-02T09:14:05.1234567",
            "updatedDateUtc": "2026-11-02T09:14:05.1265432"}  # fmt: skip


class FakeXero(FakeServer):
    """The fake; ``collections`` may be changed by a test between pulls."""

    def __init__(
        self,
        sample: Path,
        *,
        client_id: str = "xero-client",
        client_secret: str = "xero-secret-value",  # noqa: S107 (a test value)
    ) -> None:
        super().__init__(TokenState(client_id, client_secret))
        data = json.loads(sample.read_text(encoding="utf-8-sig"))
        self.collections: dict[str, list[dict[str, Any]]] = {
            name: list(data.get(name, []))
            for name in ("Contacts", "Invoices", "CreditNotes", "Payments")
        }
        self.tenant = TENANT
        self.organisations: list[dict[str, Any]] = [
            organisation(TENANT, "Harbor Plumbing")
        ]

    def data(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
        if seen.method == "GET" and seen.path == "/connections":
            if not self.tokens.valid(seen.headers.get("authorization")):
                return json_answer(401, {"Title": "Unauthorized"})
            return 200, json.dumps(self.organisations).encode(), {
                "Content-Type": "application/json"}  # fmt: skip
        if seen.method != "GET" or not seen.path.startswith(API + "/"):
            return json_answer(404, {"Message": "not found"})
        if not self.tokens.valid(seen.headers.get("authorization")):
            return json_answer(401, {"Title": "Unauthorized"})
        if seen.headers.get("xero-tenant-id") != self.tenant:
            return json_answer(403, {"Title": "Forbidden", "Detail": "tenant"})
        name = seen.path.removeprefix(API + "/")
        if name not in self.collections:
            return json_answer(404, {"Message": "not found"})
        items = [
            i for i in self.collections[name] if _matches(i, seen.query.get("where"))
        ]
        since = seen.headers.get("if-modified-since")
        if since:
            items = [i for i in items if _updated(i) > since]
        items.sort(key=_updated)
        size = int(seen.query.get("pageSize", "100"))
        page = int(seen.query.get("page", "1"))
        chunk = items[(page - 1) * size : page * size]
        envelope = {"Id": f"fake-{name}-{page}", "Status": "OK", "ProviderName": "billfold tests",
                    "DateTimeUTC": "/Date(1751325123000)/", name: chunk}  # fmt: skip
        body = json.dumps(envelope, indent=2).encode()
        return 200, body, {"Content-Type": "application/json"}

    def data_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path != self.token_path]


def _matches(item: dict[str, Any], where: str | None) -> bool:
    if not where:
        return True
    match = re.fullmatch(r'(\w+)=="?([^"]*)"?', where)
    assert match, f"the fake does not understand where={where!r}"
    value = item.get(match[1])
    if isinstance(value, bool):
        return str(value).lower() == match[2]
    return str(value) == match[2]
