"""The Flask portal. ``create_app(settings=None)`` builds it; nothing happens at import."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from flask import Flask, g, render_template, request
from jinja2.bccache import Bucket, BytecodeCache
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from portal import csrf, ops
from portal.context import Portal
from portal.params import IdConverter, PortalRule
from portal.security import install_headers, secret_key, uses_https
from schemas.limits import LIMITS, clip
from schemas.money import format_money, format_unit_price, typed_text
from schemas.records import document_title
from schemas.settlement import STATUS_LABELS, is_overdue
from sync.access.sender import OutboxSender
from sync.config import Settings, load_settings
from sync.errors import StoreError
from sync.store import Store, open_store
from sync.store.migrate import check_current


def create_app(settings: Settings | None = None, store: Store | None = None) -> Flask:
    """Build the portal for *settings* (default: load them as the CLI does)."""
    settings = settings or load_settings()
    if settings.business.logo:
        logo = Path(settings.business.logo)
        if not logo.is_absolute() and settings.config_path:
            from dataclasses import replace

            settings = replace(
                settings,
                business=replace(
                    settings.business, logo=str(settings.config_path.parent / logo)
                ),
            )
    opened = store is None
    store = store or open_store(settings)
    # A web worker never migrates (several start at once, on several nodes): it
    # refuses a schema that is not this billfold's, and says to run `billfold db upgrade`.
    try:
        check_current(store)
    except StoreError:
        if opened:
            store.dispose()
        raise
    app = Flask(__name__)
    app.url_rule_class = PortalRule
    if settings.portal.proxy_hops:
        # The client's address (rate limits, audit) and scheme come from the headers
        # of exactly this many trusted proxies; links are built from base_url, never
        # from a forwarded Host, so X-Forwarded-Host is not read.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way to install WSGI middleware
            app.wsgi_app, x_for=settings.portal.proxy_hops,
            x_proto=settings.portal.proxy_hops, x_host=0, x_port=0, x_prefix=0,
        )  # fmt: skip
    app.url_map.converters["id"] = IdConverter
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="billfold_csrf",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=uses_https(settings),
        MAX_CONTENT_LENGTH=settings.portal.upload_max_mb * 1024 * 1024 + 64 * 1024,
        PREFERRED_URL_SCHEME="https" if uses_https(settings) else "http",
    )
    app.extensions["billfold"] = Portal(
        settings=settings, store=store, mailer=OutboxSender(settings, store)
    )
    ops.install(app)  # first: the request id is on every line the request logs
    csrf.install(app)
    install_headers(app, settings)
    _template_helpers(app, settings)

    from portal import admin, auth, branding, customer, hooks, notices

    app.before_request(auth.load_principal)
    app.register_blueprint(auth.bp)
    app.register_blueprint(branding.bp)
    app.register_blueprint(customer.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(hooks.bp)
    _error_pages(app)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Browsers ask for /favicon.ico whatever the page links: the same icon, no 404.
        icon = Path(app.static_folder or "", "favicon.svg").read_bytes()
        response = Response(icon, mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    return app


# The admin menu: (endpoint, label). Each page module adds its endpoint here.
ADMIN_NAV = [
    ("admin.dashboard", "Overview"),
    ("admin.imports", "Imports"),
    ("admin.connections", "Connections"),
    ("admin.invoices", "Invoices"),
    ("admin.receivables", "Receivables"),
    ("admin.conflicts", "Conflicts"),
    ("admin.claims", "I've paid"),
    ("admin.documents", "Documents"),
    ("admin.contacts", "Contacts"),
    ("admin.accounts", "Accounts"),
    ("admin.notices", "Email notices"),
    ("admin.audit_log", "Audit log"),
]


class _CompiledTemplates(BytecodeCache):
    """Templates compiled once per process, shared by every app it builds (a worker
    builds one; the tests and the demo build many). Jinja checks each entry against
    its template's source, so an edited template is compiled again."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


def _template_helpers(app: Flask, settings: Settings) -> None:
    app.jinja_env.autoescape = True
    app.jinja_env.bytecode_cache = _COMPILED

    locale = settings.business.locale

    @app.template_filter("money")
    def money(minor: int | None, currency: str, unknown: str = "not reported") -> str:
        return format_money(minor, currency, unknown=unknown, locale=locale)

    @app.template_filter("unit_price")
    def unit_price(value: str | None, currency: str) -> str:
        limit = LIMITS["line_unit_price"].maximum
        return format_unit_price(clip(value, limit), currency, locale)

    @app.template_filter("typed")
    def typed(minor: int | None, currency: str) -> str:
        """An amount as a person types it here (a form's value or example)."""
        return typed_text(minor, currency, locale)

    @app.template_filter("clip")
    def clip_text(text: str | None, field: str) -> str:
        """Imported text cut to its field's limit (older imports had none)."""
        return clip(text, LIMITS[field].maximum)

    @app.template_filter("day")
    def day(value: date | datetime | None) -> str:
        if value is None:
            return ""
        return f"{value:%d %b %Y}"

    app.add_template_global(document_title)

    @app.template_global()
    def status_badge(
        status: str, due: date | None, today: date, paid: int | None = None
    ) -> Markup:
        label = STATUS_LABELS.get(status, status)
        badge = Markup('<span class="badge badge-{}">{}</span>').format(status, label)
        if is_overdue(status, due, today):  # a flag beside the status, never instead
            badge += Markup(' <span class="badge badge-overdue">Overdue</span>')
            if status != "partially_paid" and paid:  # overdue, yet something was paid
                badge += Markup(' <span class="badge badge-partly">Partly paid</span>')
        return Markup('<span class="badges">{}</span>').format(badge)

    @app.context_processor
    def globals_() -> dict:
        return {
            "business": settings.business,
            "scope": g.get("scope"),
            "contact": g.get("contact"),
            "admin": g.get("admin"),
            "preview": g.get("preview"),
            "admin_nav": ADMIN_NAV,
        }


def _error_pages(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_exc: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=404,
            title="Not found",
            message="There is nothing here, or it is not yours to see.",
        ), 404

    @app.errorhandler(403)
    def forbidden(exc: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=403,
            title="Not allowed",
            message=getattr(exc, "description", None) or "That is not allowed here.",
        ), 403

    @app.errorhandler(400)
    def bad_request(exc: Exception) -> tuple[str, int]:
        message = (
            getattr(exc, "description", None) or "That request could not be understood."
        )
        return render_template(
            "errors/error.html",
            code=400,
            title="Please check what you asked for",
            message=message,
        ), 400

    @app.errorhandler(csrf.CSRFError)
    def csrf_failed(_exc: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=400,
            title="Please try again",
            message="The form had expired. Go back, reload the page and send it again.",
        ), 400

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=413,
            title="File too large",
            message="That file is larger than this portal accepts.",
        ), 413

    @app.errorhandler(405)
    def not_allowed(_exc: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=405,
            title="Not allowed",
            message=f"{request.method} is not used here.",
        ), 405

    @app.errorhandler(StoreError)
    def store_unavailable(exc: Exception) -> tuple[str, int, dict[str, str]]:
        app.logger.error("store unavailable: %s", exc)
        page = render_template(
            "errors/error.html", code=503, title="Back in a moment",
            message="The records are being updated. Please try again in a minute.",
        )  # fmt: skip
        return page, 503, {"Retry-After": "30"}

    @app.errorhandler(500)
    def failed(_exc: Exception) -> tuple[str, int]:
        return render_template(
            "errors/error.html",
            code=500,
            title="Something went wrong",
            message="The error has been logged. Please try again in a minute.",
        ), 500
