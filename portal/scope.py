"""Customer scope in the portal: ``sync.access.scope`` decides what a signed-in contact
may see (the email notices use it too); a record outside it is a 404, never a 403 that
would confirm it exists.
"""

from __future__ import annotations

from flask import abort, g

from sync.access.scope import AMOUNT_DOCUMENT_KINDS, Scope, scope_for

__all__ = ["AMOUNT_DOCUMENT_KINDS", "Scope", "require_amounts", "scope_for"]


def require_amounts() -> Scope:
    """Return the request's scope, or 404 when it may not see amounts."""
    scope: Scope = g.scope
    if not scope.sees_amounts:
        abort(404)
    return scope
