"""Admin sign-in and the dashboard. Other admin pages live in their own modules."""

from __future__ import annotations

from flask import render_template
from werkzeug.wrappers import Response

from portal.admin import bp
from portal.admin.queries import batches
from portal.auth import ADMIN, request_link
from portal.auth import use_link as use_admin_link
from portal.context import portal


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> str | Response | tuple[str, int]:
    """Ask for an admin sign-in link."""
    return request_link(ADMIN)


@bp.route("/sign-in/<token>", methods=["GET", "POST"])
def use_link(token: str) -> str | Response | tuple[str, int]:
    """Confirm and use an admin sign-in link."""
    return use_admin_link(ADMIN, token)


@bp.get("/")
def dashboard() -> str:
    """What needs the office's attention."""
    with portal().store.read() as conn:
        counts = batches.attention_counts(conn)
        recent = batches.recent_batches(conn, 10)
    return render_template("admin/dashboard.html", counts=counts, recent=recent)
