"""CSRF tokens bound to the portal session, checked on every unsafe request.

Flask-WTF, which billfold used first, keeps its CSRF secret in Flask's signed cookie,
apart from the portal's server-side session: a token fetched before signing in still
worked after it, and one browser's token outlived every sign-in and sign-out in it.
Here a form's token is an HMAC, under the app's secret key, of

* the browser's portal session secret (the ``billfold_session`` cookie, whose hash
  names a ``portal_session`` row) when it sends one: the token works in that session
  only, and signing in starts a new session, so every older token stops working;
* otherwise a random nonce kept in Flask's signed cookie for the sign-in pages; it is
  dropped at sign-in and at sign-out (``rotate``), so no token from before works after.

Customer and admin forms alike carry it as ``csrf_token`` (or JavaScript sends it in
an ``X-CSRFToken`` header); a POST, PUT, PATCH or DELETE without the right one is
refused with a 400 before its view runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Flask, current_app, g, request, session
from werkzeug.exceptions import BadRequest

from portal.security import SESSION_COOKIE

FIELD = "csrf_token"
HEADERS = ("X-CSRFToken", "X-CSRF-Token")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NONCE_KEY = "csrf_nonce"
# Endpoints authenticated by a signed token in their URL, not by a session: a mail
# provider's one-click unsubscribe POST (RFC 8058) has no session and no form token.
EXEMPT = frozenset({"notices.unsubscribe_link"})
# Blueprints whose calls prove themselves otherwise: webhooks carry a signature, no
# cookie (``portal.hooks``).
EXEMPT_BLUEPRINTS = frozenset({"hooks"})


class CSRFError(BadRequest):
    """A form came without this session's CSRF token."""

    description = "The form had expired."


def _binding(create: bool) -> str | None:
    """What this browser's tokens are bound to, or None when it has nothing yet."""
    session_secret = request.cookies.get(SESSION_COOKIE)
    if session_secret:
        return "session:" + session_secret
    nonce = session.get(NONCE_KEY)
    if not isinstance(nonce, str):
        if not create:
            return None
        nonce = session[NONCE_KEY] = secrets.token_urlsafe(32)
    return "visitor:" + nonce


def _sign(binding: str) -> str:
    key = str(current_app.secret_key).encode()
    return hmac.new(key, b"csrf\0" + binding.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    """Return the token for this page's forms (``{{ csrf_token() }}`` in templates)."""
    if "csrf_token" not in g:
        binding = _binding(create=True)
        assert binding is not None
        g.csrf_token = _sign(binding)
    return g.csrf_token


def rotate() -> None:
    """Forget the visitor nonce: call at sign-in and sign-out, when the session changes."""
    session.pop(NONCE_KEY, None)
    g.pop("csrf_token", None)


def protect() -> None:
    """Refuse an unsafe request that does not carry this session's token."""
    if request.method not in UNSAFE or request.endpoint is None:
        return  # safe methods never act; unknown routes answer 404/405 anyway
    if request.endpoint in EXEMPT or request.blueprint in EXEMPT_BLUEPRINTS:
        return
    sent = request.form.get(FIELD) or next(
        (request.headers[h] for h in HEADERS if request.headers.get(h)), ""
    )
    binding = _binding(create=False)
    if not sent or binding is None or not hmac.compare_digest(sent, _sign(binding)):
        raise CSRFError()


def install(app: Flask) -> None:
    """Check tokens before every view and offer ``csrf_token()`` to templates."""
    app.before_request(protect)
    app.jinja_env.globals["csrf_token"] = csrf_token
