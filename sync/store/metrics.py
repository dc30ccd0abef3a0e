"""Prometheus metrics read from the store, and the allow-list that guards them.

Imports, rows, row errors, waiting files, the outbox, the last successful poll of
each source, whether each API connection works, webhook calls (accepted per source,
refused per system and reason) and waiting pull requests are facts in the database, so
``StoreCollector`` reads them at scrape time: every node answers the same store-wide
figures (aggregate them with ``max``, not
``sum``), and they survive restarts. The portal adds its own request metrics
(``portal.metrics``); ``billfold run --metrics-port`` serves these with the worker's
process metrics (``serve_metrics``).

``/metrics`` is answered only to ``[portal] metrics_allow`` networks (default
loopback): the figures name sources and how busy the business is.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from schemas.tables import (
    API_CONNECTIONS,
    IMPORT_BATCHES,
    OUTBOX,
    PULL_REQUESTS,
    ROW_ERRORS,
    SOURCE_STATES,
    WEBHOOK_EVENTS,
    WEBHOOK_REFUSALS,
)
from sync.config import Settings, allowed_networks
from sync.log import event
from sync.store import Store

A = API_CONNECTIONS
B = IMPORT_BATCHES
E = ROW_ERRORS
O = OUTBOX  # noqa: E741
S = SOURCE_STATES
W = WEBHOOK_EVENTS
OUTBOX_STATES = ("waiting", "failed")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def may_see_metrics(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether a client at *address* is in one of *networks* (no address: no)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def _epoch(value: Any) -> float:  # not money
    from datetime import UTC

    return value.replace(tzinfo=UTC).timestamp()


class StoreCollector(Collector):
    """The store-wide figures, read at every scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "billfold_store_up", "1 if the last scrape could read the store, else 0"
        )
        try:
            families = self._read()
        except Exception as exc:  # a scrape must answer even when the database is down
            event("metrics.store_unreadable", logging.WARNING, error=repr(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        imports = CounterMetricFamily(
            "billfold_imports", "Files imported, by source and outcome",
            labels=["source", "status"],
        )  # fmt: skip
        rows = CounterMetricFamily(
            "billfold_import_rows", "Records applied by imports (created or updated)",
            labels=["source"],
        )  # fmt: skip
        errors = CounterMetricFamily(
            "billfold_import_row_errors", "Records rejected by imports (row errors)",
            labels=["source"],
        )  # fmt: skip
        waiting = GaugeMetricFamily(
            "billfold_claims_waiting", "Files listed by a worker and not yet imported",
            labels=["source"],
        )  # fmt: skip
        outbox = GaugeMetricFamily(
            "billfold_outbox_messages", "Mail in the outbox: waiting (retries too) or failed",
            labels=["state"],
        )  # fmt: skip
        last = GaugeMetricFamily(
            "billfold_source_last_success_timestamp_seconds",
            "When a worker last listed the source without error (Unix time)",
            labels=["source"],
        )
        connected = GaugeMetricFamily(
            "billfold_api_connection_up",
            "1 while an API source's connection works; 0 when revoked or not connected",
            labels=["source"],
        )
        with self.store.read() as conn:
            for row in conn.execute(select(A.c.source, A.c.state)):
                connected.add_metric([row.source], 1 if row.state == "connected" else 0)
            for row in conn.execute(
                select(B.c.source, B.c.status, func.count().label("n")).group_by(
                    B.c.source, B.c.status
                )
            ):
                imports.add_metric([row.source, row.status], row.n)
            for row in conn.execute(
                select(B.c.source, func.sum(B.c.created + B.c.updated).label("n"))
                .where(B.c.status.in_(("applied", "published")))
                .group_by(B.c.source)
            ):
                rows.add_metric([row.source], int(row.n or 0))
            for row in conn.execute(
                select(B.c.source, func.count().label("n"))
                .select_from(E.join(B, E.c.batch_id == B.c.id))
                .group_by(B.c.source)
            ):
                errors.add_metric([row.source], row.n)
            counts = dict.fromkeys(OUTBOX_STATES, 0)
            for row in conn.execute(
                select(O.c.state, func.count().label("n"))
                .where(O.c.state.in_(OUTBOX_STATES))
                .group_by(O.c.state)
            ):
                counts[row.state] = row.n
            for state, n in counts.items():
                outbox.add_metric([state], n)
            for source in conn.execute(select(S)):
                if source.files_pending is not None:
                    waiting.add_metric([source.source], source.files_pending)
                if source.last_success_at is not None:
                    last.add_metric([source.source], _epoch(source.last_success_at))
            hooks = _webhooks(conn)
        return [imports, rows, errors, waiting, outbox, last, connected, *hooks]


def _webhooks(conn: Any) -> list[Metric]:
    """Webhook calls accepted and refused, and the pulls they asked for."""
    accepted = CounterMetricFamily(
        "billfold_webhook_events", "Webhook calls accepted, by source",
        labels=["source"],
    )  # fmt: skip
    refused = CounterMetricFamily(
        "billfold_webhook_refusals",
        "Webhook calls refused (or naming no configured organisation), by system "
        "and reason",
        labels=["system", "reason"],
    )
    pulls = GaugeMetricFamily(
        "billfold_pull_requests_waiting", "Pulls asked for and not yet taken, by source",
        labels=["source"],
    )  # fmt: skip
    for row in conn.execute(
        select(W.c.source, func.count().label("n")).group_by(W.c.source)
    ):
        accepted.add_metric([row.source], row.n)
    for row in conn.execute(select(WEBHOOK_REFUSALS)):
        refused.add_metric([row.system, row.reason], row.count)
    P = PULL_REQUESTS
    for row in conn.execute(
        select(P.c.source, func.count().label("n"))
        .where(P.c.taken_at.is_(None))
        .group_by(P.c.source)
    ):
        pulls.add_metric([row.source], row.n)
    return [accepted, refused, pulls]


def guarded(app: Callable, networks: tuple[Network, ...]) -> Callable:
    """Wrap a WSGI app so only clients in *networks* reach it (others get 403)."""

    def guard(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not may_see_metrics(environ.get("REMOTE_ADDR"), networks):
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"metrics are not shown to this address (portal.metrics_allow)\n"]
        return app(environ, start_response)

    return guard


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


def serve_metrics(
    settings: Settings, store: Store, host: str, port: int
) -> tuple[WSGIServer, threading.Thread]:
    """Serve the worker's metrics (process and store-wide) on *host*:*port* in a thread."""
    from prometheus_client import REGISTRY

    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    for collector in list(REGISTRY._collector_to_names):  # process, platform, gc
        registry.register(collector)
    app = guarded(
        make_wsgi_app(registry), allowed_networks(settings.portal.metrics_allow)
    )
    server = make_server(host, port, app, handler_class=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, name="billfold-metrics", daemon=True
    )
    thread.start()
    event("metrics.serving", host=host, port=server.server_port)
    return server, thread
