"""Operations: ``/healthz``, ``/readyz``, ``/metrics`` and a request id on every request.

* ``/healthz``: the process answers (a supervisor's liveness); touches nothing.
* ``/readyz``: the database answers, its schema is this billfold's and the blob store
  takes a write; else 503 naming what is not (a load balancer's readiness).
* ``/metrics``: Prometheus text, only to ``[portal] metrics_allow`` networks (the real
  client address behind ``proxy_hops``). Under gunicorn with ``PROMETHEUS_MULTIPROC_DIR``
  set (``billfold serve`` sets it) the request metrics add up every worker.
* Every request gets an id: a sane ``X-Request-ID`` from the proxy, or a new one. It is
  on every log line written while the request is answered and echoed in the response.
"""

from __future__ import annotations

import os
import re
import time
import uuid

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from portal.context import client_ip, portal
from sync.config import allowed_networks
from sync.log import request_id
from sync.store.blobs import check_writable
from sync.store.metrics import StoreCollector, may_see_metrics
from sync.store.migrate import schema_problem

REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{8,128}")
REQUESTS = Counter(
    "billfold_http_requests",
    "Requests answered, by route (the URL rule) and status",
    ["route", "status"],
)
LATENCY = Histogram(
    "billfold_http_request_duration_seconds", "Time to answer a request", ["route"]
)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "(no route)"


def install(app: Flask) -> None:
    """Add the request id, the request metrics and the three endpoints to *app*."""
    networks = allowed_networks(portal_settings(app).portal.metrics_allow)

    @app.before_request
    def _begin() -> None:
        given = request.headers.get("X-Request-ID", "")
        rid = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id = rid
        g.request_id_token = request_id.set(rid)
        g.request_started = time.perf_counter()

    @app.after_request
    def _end(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        started = g.get("request_started")
        if started is not None:
            route = _route()
            REQUESTS.labels(route, str(response.status_code)).inc()
            LATENCY.labels(route).observe(time.perf_counter() - started)
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id.reset(token)

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict]:
        return "ok\n", 200, {"Content-Type": "text/plain"}

    @app.get("/readyz")
    def readyz() -> tuple[str, int, dict]:
        problem = not_ready()
        if problem:
            return f"not ready: {problem}\n", 503, {"Content-Type": "text/plain"}
        return "ready\n", 200, {"Content-Type": "text/plain"}

    @app.get("/metrics")
    def metrics() -> tuple[bytes | str, int, dict]:
        if not may_see_metrics(client_ip(), networks):
            return (
                "metrics are not shown to this address (portal.metrics_allow)\n",
                403,
                {"Content-Type": "text/plain"},
            )
        return generate_latest(_registry()), 200, {"Content-Type": CONTENT_TYPE_LATEST}


def portal_settings(app: Flask):
    """The settings *app* was built with."""
    return app.extensions["billfold"].settings


def not_ready() -> str | None:
    """Say why this worker should get no traffic, or None when it is ready."""
    p = portal()
    try:
        p.store.ping()
    except Exception as exc:
        return f"the database cannot be reached ({type(exc).__name__})"
    try:
        problem = schema_problem(p.store)
    except Exception as exc:
        return f"the database schema cannot be read ({type(exc).__name__})"
    if problem is not None:
        return problem[0]
    try:
        check_writable(p.settings)
    except Exception as exc:
        kind = type(exc).__name__
        return (
            f"the blob store ({p.settings.storage.backend}) cannot be written ({kind})"
        )
    return None


def _registry() -> CollectorRegistry:
    """This process's metrics, or every gunicorn worker's in multiprocess mode, plus the
    store-wide figures."""
    store_collector = StoreCollector(portal().store)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry(auto_describe=True)
        for collector in list(REGISTRY._collector_to_names):
            registry.register(collector)
    registry.register(store_collector)
    return registry
