"""Admin sign-in and the dashboard. Other admin pages live in their own modules."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from portal.admin import bp
from portal.auth import ADMIN, request_link
from portal.auth import use_link as use_admin_link
from portal.context import portal
from schemas.tables import (
    CONFLICTS,
    DOCUMENTS,
    IMPORT_BATCHES,
    PAYMENT_CLAIMS,
    ROW_ERRORS,
)

B = IMPORT_BATCHES
K = CONFLICTS
CL = PAYMENT_CLAIMS
D = DOCUMENTS
RE = ROW_ERRORS


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
        counts = {
            "conflicts": conn.execute(
                select(func.count()).where(K.c.resolved_at.is_(None))
            ).scalar_one(),
            "claims": conn.execute(
                select(func.count()).where(CL.c.state == "pending")
            ).scalar_one(),
            "staged": conn.execute(
                select(func.count()).where(B.c.status == "staged")
            ).scalar_one(),
            "unlinked": conn.execute(
                select(func.count()).where(D.c.account_id.is_(None))
            ).scalar_one(),
        }
        recent = conn.execute(select(B).order_by(B.c.id.desc()).limit(10)).all()
    return render_template("admin/dashboard.html", counts=counts, recent=recent)
