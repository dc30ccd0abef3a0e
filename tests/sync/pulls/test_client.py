"""The pull client's limiter and waits: per-tenant limits, Retry-After, capped backoff."""

from __future__ import annotations

import time
from datetime import UTC, timedelta
from email.utils import format_datetime

import pytest

from schemas.tables import utcnow
from sync.pulls.client import ApiClient, RateLimiter, limiter_for, retry_after
from sync.pulls.errors import PullError


def test_each_service_has_its_limit_per_tenant():
    assert limiter_for("xero", "t1").per_minute == 60
    assert limiter_for("quickbooks", "r1").per_minute == 500
    assert limiter_for("xero", "t1") is limiter_for("xero", "t1")
    assert limiter_for("xero", "t1") is not limiter_for("xero", "t2")


@pytest.mark.alone  # measures a wait
def test_a_full_window_waits_for_a_slot():
    limiter = RateLimiter(2, window=0.5)  # not money
    assert limiter.wait() == 0 and limiter.wait() == 0
    started = time.monotonic()
    assert limiter.wait() > 0
    assert time.monotonic() - started >= 0.4


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("7") == 7
    when = (utcnow() + timedelta(seconds=30)).replace(microsecond=0)
    seconds = retry_after(format_datetime(when.replace(tzinfo=UTC), usegmt=True))
    assert seconds is not None and 25 <= seconds <= 31
    assert retry_after("soon") is None and retry_after(None) is None


def test_the_client_refuses_other_schemes():
    client = ApiClient("x", RateLimiter(60))
    with pytest.raises(PullError, match="not an http"):
        client.get("file:///etc/passwd")


def test_a_service_that_stays_down_fails_after_capped_waits(fake_xero):
    fake_xero.fail_next(503, retry_after="3600", times=3)
    client = ApiClient("x", RateLimiter(60), attempts=3, max_wait=0.01)  # not money
    with pytest.raises(PullError, match="failed after 3 attempts: 503"):
        client.get(fake_xero.url + "/api.xro/2.0/Invoices")
