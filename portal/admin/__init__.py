"""The admin portal (blueprint ``admin``, under /admin): the office's side of billfold.

Every route requires an admin session, enforced once in ``require_admin`` (a meta-test
walks the URL map to prove no admin route escapes it). Every POST carries a CSRF token
(portal.csrf, app-wide, bound to the session). Changing who can see what needs a
recent sign-in (step-up).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, g, redirect, request, url_for
from werkzeug.wrappers import Response

from portal.context import client_ip, portal
from schemas.tables import utcnow
from sync.store.audit import record

bp = Blueprint("admin", __name__, url_prefix="/admin")
PUBLIC = frozenset({"admin.sign_in", "admin.use_link"})


@bp.before_request
def require_admin() -> Response | None:
    """Every admin route but the sign-in pages needs an admin session."""
    if request.endpoint in PUBLIC:
        return None
    if g.get("admin") is None:
        if request.method in ("GET", "HEAD"):
            return redirect(url_for("admin.sign_in"))
        abort(403)
    return None


def actor() -> str:
    """How the audit log names the signed-in admin."""
    return f"admin:{g.admin['email']}"


def audit(action: str, **kw: Any) -> None:
    """Record an admin action (its own small transaction)."""
    with portal().store.write(ledger=False) as conn:
        record(conn, actor(), action, ip=client_ip(), **kw)


def step_up_due() -> bool:
    """True when this admin signed in longer than admin_step_up_minutes ago."""
    limit = timedelta(minutes=portal().settings.portal.admin_step_up_minutes)
    return utcnow() - g.session.created_at > limit


def recent_sign_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Step-up: actions that change access need a sign-in within admin_step_up_minutes."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if step_up_due():
            return redirect(url_for("admin.sign_in", step_up=1))
        return view(*args, **kwargs)

    return wrapper


# The page modules register their routes on bp.
from portal.admin import (  # noqa: E402,F401
    accounts,
    audit_log,
    connections,
    contacts,
    documents,
    imports,
    invoices,
    marks,
    notices,
    preview,
    receivables,
    views,
)
