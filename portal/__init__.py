"""The Flask portal. ``create_app(settings=None)`` builds it; nothing happens at import."""

from __future__ import annotations

from flask import Flask

from sync.config import Settings, load_settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the portal app for *settings* (default: load them like the CLI does)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["BILLFOLD_SETTINGS"] = settings

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    return app
