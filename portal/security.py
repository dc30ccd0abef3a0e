"""Secrets, cookies and response headers.

The session cookie holds a random secret whose hash names a row in ``portal_session``;
Flask's own signed cookie carries only flash messages, an admin's preview and the
visitor nonce CSRF tokens are bound to before sign-in (``portal.csrf``). Every response gets a strict
Content-Security-Policy (no inline script or style), no framing, no referrer leaks, and
HSTS when the portal is served over HTTPS.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

from sync.config import Settings
from sync.store.secret_key import secret_key as secret_key

SESSION_COOKIE = "billfold_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


def uses_https(settings: Settings) -> bool:
    """True when customers reach the portal over HTTPS."""
    return settings.base_url.lower().startswith("https://")


def install_headers(app: Flask, settings: Settings) -> None:
    """Add the security headers to every response."""
    https = uses_https(settings)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if https:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if request.endpoint not in (
            "static",
            "favicon",
            "branding.css",
            "branding.logo",
        ):
            response.headers["Cache-Control"] = "no-store"
        return response


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """Hand the browser its session secret (HttpOnly, SameSite=Lax, Secure on HTTPS)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.portal.session_absolute_hours * 3600,
        httponly=True,
        secure=uses_https(settings),
        samesite="Lax",
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    """Make the browser forget its session secret."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=uses_https(settings),
        samesite="Lax",
        httponly=True,
    )
