"""Pulling from the Xero Accounting API: Contacts, Invoices, CreditNotes, Payments.

Customers only: contacts that are customers, sales invoices (``Type=="ACCREC"``) and
sales credit notes (``Type=="ACCRECCREDIT"``); supplier payments are skipped by the
adapter (``adapters.xero_api``) as in an export. Each collection is read in pages
(``page=1, 2, ...``, 100 records a page, oldest change first) until a short page,
with ``If-Modified-Since`` set to the newest ``UpdatedDateUTC`` the last successful
pull saw (the first pull reads everything). DRAFT, VOIDED and DELETED records come
back like any other and the adapter treats them as it does in an export.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sync.api_sources import ApiKeys
from sync.errors import UsageError
from sync.pulls.client import ApiClient
from sync.pulls.connections import set_values
from sync.pulls.errors import NotConnected, PullError
from sync.pulls.pull import Puller

COLLECTIONS: tuple[tuple[str, str | None], ...] = (
    ("Contacts", "IsCustomer==true"),
    ("Invoices", 'Type=="ACCREC"'),
    ("CreditNotes", 'Type=="ACCRECCREDIT"'),
    ("Payments", None),
)
PAGE_SIZE = 100
_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


def updated_at(item: Any) -> str | None:
    """A record's ``UpdatedDateUTC`` as ``YYYY-MM-DDTHH:MM:SS`` (None if absent)."""
    if not isinstance(item, dict):
        return None
    value = item.get("UpdatedDateUTC")
    if not isinstance(value, str):
        return None
    match = _MS_DATE.fullmatch(value.strip())
    if match:
        when = datetime.fromtimestamp(int(match[1]) / 1000, UTC)  # not money
        return when.replace(tzinfo=None, microsecond=0).isoformat()
    try:
        return (
            datetime.fromisoformat(value.strip())
            .replace(tzinfo=None, microsecond=0)
            .isoformat()
        )
    except ValueError:
        return None


def _items(body: bytes, collection: str, label: str) -> list[Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise PullError(f"Xero sent {label} that is not JSON: {exc}") from exc
    items = data.get(collection) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PullError(f"Xero sent {label} without a {collection} list")
    return items


def pull_xero(p: Puller) -> None:
    """Pull every collection, resuming a pull cut off at the page it reached."""
    if not p.tenant and p.signed_in_by_a_person():  # a Web app (Custom: no tenant)
        p.tenant = _organisation(p)
    base = p.source.api_base
    cursor = p.cursor()
    since: dict[str, str] = dict(cursor.get("since") or {})
    resume: dict[str, Any] = dict(cursor.get("resume") or {})
    newest: dict[str, str] = dict(resume.get("newest") or {})
    names = [name for name, _ in COLLECTIONS]
    start = (
        names.index(resume["collection"]) if resume.get("collection") in names else 0
    )
    for index, (collection, where) in enumerate(COLLECTIONS[start:], start):
        page = int(resume.get("page") or 1) if index == start and resume else 1
        while True:
            params = {"page": str(page), "pageSize": str(PAGE_SIZE),
                      "order": "UpdatedDateUTC ASC"}  # fmt: skip
            if where:
                params["where"] = where
            headers = {"Accept": "application/json"}
            if p.tenant:
                headers["Xero-tenant-id"] = p.tenant
            if since.get(collection):
                headers["If-Modified-Since"] = since[collection]
            answer = p.get(f"{base}/{collection}", params, headers)
            label = f"{collection} page {page}"
            if answer.status == 304:
                break
            items = _items(answer.body, collection, label)
            if not items:
                break
            stamps = [s for s in map(updated_at, items) if s]
            if stamps:
                newest[collection] = max([*stamps, newest.get(collection, "")])
            p.import_page(answer.body, label, {"since": since, "resume": {
                "collection": collection, "page": page + 1, "newest": newest}})  # fmt: skip
            if len(items) < PAGE_SIZE:
                break
            page += 1
    since.update(newest)
    p.save_cursor({"since": since})


def _organisation(p: Puller) -> str:
    """The organisation of a Web-app connection Connect could not choose: Xero is
    asked again (the login may since reach one only); else NotConnected lists them."""
    token = p.tokens.access_token()
    try:
        tenant = tenant_after_consent(p.source, p.name, p.client, token)
    except UsageError as exc:
        raise NotConnected(str(exc)) from exc
    set_values(p.store, p.name, tenant=tenant)
    return tenant


def connections_url(source: ApiKeys) -> str:
    """Xero's list of the organisations a login connected: beside the API's base
    (``https://api.xero.com/connections``)."""
    return source.api_base.rsplit("/api.xro/", 1)[0] + "/connections"


def tenant_after_consent(
    source: ApiKeys, name: str, client: ApiClient, access_token: str
) -> str:
    """The organisation a Web-app connection pulls from, asked of Xero once the admin
    has consented: the ``tenant_id`` in the config when the login reaches it, else the
    one organisation it reaches. Several, or none, is a UsageError naming what to do."""
    answer = client.get(
        connections_url(source),
        headers={
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/json",
        },
    )
    try:
        found = json.loads(answer.body)
    except ValueError as exc:
        raise PullError(
            f"Xero sent a list of organisations that is not JSON: {exc}"
        ) from exc
    orgs = [
        (str(c["tenantId"]), str(c.get("tenantName") or "(no name)"))
        for c in (found if isinstance(found, list) else [])
        if isinstance(c, dict)
        and c.get("tenantId")
        and str(c.get("tenantType", "ORGANISATION")).upper() == "ORGANISATION"
    ]
    ids = [tenant for tenant, _ in orgs]
    listed = "; ".join(f"{org} (tenant_id {tenant})" for tenant, org in orgs)
    if source.tenant_id and source.tenant_id in ids:
        return source.tenant_id
    if source.tenant_id:
        raise UsageError(
            f"this Xero login did not connect the organisation tenant_id "
            f"{source.tenant_id} that source {name!r} names (it connected: "
            f"{listed or 'none'}); connect again and choose that organisation on "
            "Xero's page, or correct tenant_id in the config"
        )
    if len(orgs) == 1:
        return ids[0]
    if not orgs:
        raise UsageError(
            "this Xero login connected no organisation: connect again and choose "
            "the organisation to read on Xero's page"
        )
    raise UsageError(
        f"this Xero login connected {len(orgs)} organisations: {listed}. Set "
        f"tenant_id to the one to read in source {name!r} of the config and restart "
        "billfold; the connection is kept, so there is no need to connect again"
    )
