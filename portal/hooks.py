"""``/hooks/xero`` and ``/hooks/quickbooks``: the billing systems' webhook calls.

No session and no CSRF token (``portal.csrf`` and ``portal.auth`` skip this blueprint):
a call proves itself by its signature (``sync.pulls.webhooks``). Every answer has an
empty body, so nothing a caller sent is ever echoed back.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal.context import portal
from sync.pulls.connections import stored_organisations
from sync.pulls.hook_config import HOOK_KINDS, hook_targets
from sync.pulls.webhooks import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADERS,
    Refused,
    count_refusal,
    read_call,
    record_call,
    verify,
)

NAME = "hooks"
bp = Blueprint(NAME, __name__, url_prefix="/hooks")


@bp.post("/<any(xero, quickbooks):system>")
def receive(system: str) -> Response:
    """Verify, record and answer one webhook call (see ``sync.pulls.webhooks``)."""
    assert system in HOOK_KINDS  # the route's converter admits only these
    p = portal()
    try:
        body = _body()
        with p.store.read() as conn:
            stored = stored_organisations(conn)
        signed = verify(
            hook_targets(p.settings, system, stored=stored),
            body,
            request.headers.get(SIGNATURE_HEADERS[system]),
        )
        call = read_call(system, body, signed)
    except Refused as refused:
        with p.store.write(ledger=False) as conn:
            count_refusal(conn, system, refused.reason)
        return Response(status=refused.status)
    with p.store.write(ledger=False) as conn:
        record_call(conn, call)
        if call.unmatched:
            count_refusal(conn, system, "unknown_organisation", call.unmatched)
    return Response(status=200)


def _body() -> bytes:
    """The raw body, at most ``MAX_BODY_BYTES`` (a longer one is refused unread)."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise Refused(413, "too_large")
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "too_large")
    return body
