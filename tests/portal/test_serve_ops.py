"""``billfold serve`` as an operator runs it: metrics that add up its gunicorn workers,
and one log format for billfold, gunicorn and Flask with the request id on each line."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from tests.sync.access.test_links_in_the_log import Billfold
from tests.workers import free_port, write_config

REQUESTS = 40


def _get(base: str, path: str, request_id: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(base + path)  # noqa: S310
    if request_id:
        request.add_header("X-Request-ID", request_id)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return (
            response.status,
            response.read().decode(),
            response.headers.get("X-Request-ID", ""),
        )


def _serve(settings, tmp_path, fmt: str):  # type: ignore[no-untyped-def]
    port = free_port()
    config = write_config(tmp_path / "config.toml", settings, [])
    with config.open("a") as fh:
        fh.write(f'[logging]\nformat = "{fmt}"\n')
    served = Billfold(tmp_path, config, "serve", "--port", str(port), "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    served.wait_until_serving(base)
    return served, base


@pytest.mark.slow
def test_metrics_add_up_every_worker_and_every_line_is_logfmt(
    settings, store, tmp_path
):
    served, base = _serve(settings, tmp_path, "logfmt")
    try:
        for i in range(REQUESTS):
            status, _, echoed = _get(base, "/readyz", f"probe-{i:04d}-abcdef")
            assert (status, echoed) == (200, f"probe-{i:04d}-abcdef")
        _, body, _ = _get(base, "/metrics")
        # Each worker counts its own requests; the scrape adds them up.
        assert (
            f'billfold_http_requests_total{{route="/readyz",status="200"}} {REQUESTS}.0'
            in body
        )
        served.wait_for(r"request_id=probe-0039-abcdef")
    finally:
        served.stop()
    lines = [line for line in served.stderr().splitlines() if line.strip()]
    assert lines and all(re.match(r"ts=\S+ level=[A-Z]+ ", line) for line in lines), (
        lines
    )
    booting = [line for line in lines if "logger=gunicorn.error" in line]
    assert booting, "gunicorn's own lines are in billfold's format"
    access = [
        line for line in lines if "event=http.access" in line and "/readyz" in line
    ]
    assert len(access) == REQUESTS
    assert all(re.search(r" request_id=probe-\d{4}-abcdef", line) for line in access)


@pytest.mark.slow
def test_with_json_logging_every_line_is_one_json_object(settings, store, tmp_path):
    served, base = _serve(settings, tmp_path, "json")
    try:
        _get(base, "/sign-in", "json-probe-0001")
        served.wait_for(r'"request_id": "json-probe-0001"')
    finally:
        served.stop()
    lines = [line for line in served.stderr().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]
    assert {"ts", "level"} <= set(objects[0])
    [access] = [
        o
        for o in objects
        if o.get("event") == "http.access" and o["path"] == "/sign-in"
    ]
    assert (access["status"], access["request_id"]) == ("200", "json-probe-0001")
