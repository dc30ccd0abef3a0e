"""A fake QuickBooks Online API: OAuth (authorisation code, rotating refresh tokens),
the query endpoint with LastUpdatedTime windows, STARTPOSITION/MAXRESULTS paging and
COUNT(*), and change data capture with deletes.

Serves the entities of a QuickBooks API JSON file (``sample_exports/quickbooks_api``)
under ``/v3/company/<realm>/query`` and ``/v3/company/<realm>/cdc``; every data request
must carry ``minorversion``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.oauth import FakeServer, Seen, TokenState, json_answer

API = "/v3/company"
REALM = "9130350000000001"
TIME = "2025-06-30T16:12:03.421-07:00"
_QUERY = re.compile(
    r"SELECT (?P<what>\*|COUNT\(\*\)) FROM (?P<entity>\w+) WHERE "
    r"(?:MetaData\.LastUpdatedTime > '(?P<after>[^']+)' AND )?"
    r"MetaData\.LastUpdatedTime <= '(?P<upto>[^']+)'"
    r"(?: ORDERBY Id STARTPOSITION (?P<start>\d+) MAXRESULTS (?P<max>\d+))?"
)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def updated(item: dict[str, Any]) -> datetime:
    return _when(item["MetaData"]["LastUpdatedTime"])


class FakeQuickBooks(FakeServer):
    """The fake; ``entities`` and ``deleted`` may be changed by a test between pulls."""

    def __init__(
        self,
        sample: Path,
        *,
        client_id: str = "qbo-client",
        client_secret: str = "qbo-secret-value",  # noqa: S107 (a test value)
    ) -> None:
        super().__init__(TokenState(client_id, client_secret, access_seconds=3600))
        data = json.loads(sample.read_text(encoding="utf-8-sig"))
        self.entities: dict[str, list[dict[str, Any]]] = {}
        for part in data["BatchItemResponse"]:
            for name, items in part["QueryResponse"].items():
                if isinstance(items, list):
                    self.entities.setdefault(name, []).extend(items)
        self.deleted: list[tuple[str, dict[str, Any]]] = []
        self.realm = REALM
        self.cdc_max = 1000
        # Called after each page is served (entity, start position): a test edits
        # the company there, as its people do while billfold reads it.
        self.after_page: Callable[[str, int], None] = lambda entity, start: None

    def data(self, seen: Seen) -> tuple[int, bytes, dict[str, str]]:
        if seen.method != "GET":
            return json_answer(405, {"Fault": {"type": "method"}})
        if not self.tokens.valid(seen.headers.get("authorization")):
            return json_answer(401, {"Fault": {"type": "AUTHENTICATION"}})
        if seen.path.startswith(f"{API}/") and not seen.path.startswith(
            f"{API}/{self.realm}/"
        ):
            return json_answer(403, {"Fault": {"type": "AuthorizationFault"}})
        if "minorversion" not in seen.query:
            return json_answer(400, {"Fault": {"type": "minorversion missing"}})
        if seen.path == f"{API}/{self.realm}/query":
            return self._query(seen.query.get("query", ""))
        if seen.path == f"{API}/{self.realm}/cdc":
            return self._cdc(seen.query)
        return json_answer(404, {"Fault": {"type": "not found"}})

    def _query(self, query: str) -> tuple[int, bytes, dict[str, str]]:
        match = _QUERY.fullmatch(query)
        if not match or (match["what"] == "*") != bool(match["start"]):
            return json_answer(
                400, {"Fault": {"type": "ValidationFault", "query": query}}
            )
        upto = _when(match["upto"])
        after = _when(match["after"]) if match["after"] else None
        items = [
            i for i in self.entities.get(match["entity"], [])
            if updated(i) <= upto and (after is None or updated(i) > after)
        ]  # fmt: skip
        if match["what"] != "*":
            answer = {"QueryResponse": {"totalCount": len(items)}, "time": TIME}
            return (
                200,
                json.dumps(answer).encode(),
                {"Content-Type": "application/json"},
            )
        items.sort(key=lambda i: int(i["Id"]))
        start, size = int(match["start"]), int(match["max"])
        chunk = items[start - 1 : start - 1 + size]
        response: dict[str, Any] = {}
        if chunk:
            response = {
                match["entity"]: chunk,
                "startPosition": start,
                "maxResults": len(chunk),
            }
        self.after_page(match["entity"], start)
        return (
            200,
            json.dumps({"QueryResponse": response, "time": TIME}, indent=2).encode(),
            {"Content-Type": "application/json"},
        )

    def _cdc(self, query: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        since = _when(query["changedSince"])
        parts = []
        for entity in query["entities"].split(","):
            changed = [i for i in self.entities.get(entity, []) if updated(i) > since]
            changed.sort(key=updated)
            changed += [
                {"Id": i["Id"], "status": "Deleted", "MetaData": i["MetaData"]}
                for e, i in self.deleted
                if e == entity and updated(i) > since
            ]
            changed = changed[: self.cdc_max]
            if changed:
                parts.append(
                    {entity: changed, "startPosition": 1, "maxResults": len(changed)}
                )
        body = {"CDCResponse": [{"QueryResponse": parts}], "time": TIME}
        return (
            200,
            json.dumps(body, indent=2).encode(),
            {"Content-Type": "application/json"},
        )

    def data_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path != self.token_path]
