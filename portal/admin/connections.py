"""Connections: each Xero and QuickBooks source's state, last and next pull, errors;
connect (the service's consent page), reconnect, disconnect and "Pull now"."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal.admin import audit, bp
from portal.context import portal
from sync.api_sources import API_KINDS
from sync.errors import SourceError, UsageError
from sync.pulls import connect as flow
from sync.pulls.connections import read_row
from sync.pulls.requests import request_pull
from sync.store import Store


@bp.get("/connections")
def connections() -> str:
    """Every API source and how its connection is."""
    with portal().store.read() as conn:
        rows = flow.connections(conn, portal().settings)
    return render_template("admin/connections.html", connections=rows)


@bp.get("/connections/<source>/connect")
def connections_connect(source: str) -> Response:
    """Send the admin to the service's consent page (state kept, hashed, 15 minutes)."""
    try:
        url = flow.start_connect(portal().settings, portal().store, source)
    except UsageError:
        abort(404)
    audit("connection_started", source=source)
    return redirect(url)


@bp.get("/connections/callback")
def connections_callback() -> Response:
    """Where the service sends the admin back: check the state, keep the tokens."""
    args = request.args
    if args.get("error"):
        flash(f"The connection was not made: {args.get('error')}.", "error")
        return redirect(url_for("admin.connections"))
    try:
        name = flow.finish_connect(
            portal().settings, portal().store, args.get("state", ""),
            args.get("code", ""), args.get("realmId"),
        )  # fmt: skip
    except (UsageError, SourceError) as exc:
        flash(f"The connection was not made: {exc}", "error")
        return redirect(url_for("admin.connections"))
    audit("connection_connected", source=name)
    flash(f"{name} is connected; it is pulled on its schedule.", "success")
    return redirect(url_for("admin.connections"))


@bp.post("/connections/<source>/reconnect")
def connections_reconnect(source: str) -> Response:
    """Let a revoked or disconnected source pull again."""
    return _change(source, flow.reconnect, "connection_reconnected",
                   f"{source} will be pulled again at its next pull.")  # fmt: skip


@bp.post("/connections/<source>/disconnect")
def connections_disconnect(source: str) -> Response:
    """Drop a source's tokens and stop its pulls."""
    return _change(source, flow.disconnect, "connection_disconnected",
                   f"{source} is disconnected; nothing is pulled until it is "
                   "connected again.")  # fmt: skip


def _change(
    source: str, change: Callable[[Store, str], None], action: str, done: str
) -> Response:
    """Change a connection (404 for a source that is not an API source), audit it and
    say what happened."""
    try:
        change(portal().store, source)
    except UsageError:
        abort(404)
    audit(action, source=source)
    flash(done, "success")
    return redirect(url_for("admin.connections"))


@bp.post("/connections/<source>/pull")
def connections_pull(source: str) -> Response:
    """Ask the workers for a pull of *source* now (taken within seconds by
    ``billfold run``; one request waits per source however often it is asked)."""
    p = portal()
    configured = {s.name for s in p.settings.sources if s.kind in API_KINDS}
    with p.store.write(ledger=False) as conn:
        if source not in configured and read_row(conn, source) is None:
            abort(404)
        request_pull(conn, source, "admin")
    audit("pull_asked", source=source)
    flash(
        f"A pull of {source} was asked for: a running billfold run worker starts it "
        "within a few seconds.",
        "success",
    )
    return redirect(url_for("admin.connections"))
