"""Fixtures of the API pull tests: fake services and settings that point at them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from sync.config import Settings, SourceSettings
from sync.pulls import client as client_module
from sync.pulls import quickbooks as quickbooks_module
from sync.pulls import xero as xero_module
from tests.conftest import SAMPLES
from tests.fakes.quickbooks import API as QBO_API
from tests.fakes.quickbooks import FakeQuickBooks
from tests.fakes.xero import API, FakeXero

XERO_SAMPLE = SAMPLES / "xero_api" / "harbor_merged_envelope.json"
XERO_SECRET = "xero-secret-value"
QBO_SAMPLE = SAMPLES / "quickbooks_api" / "harbor_ledger_batch.json"
QBO_SECRET = "qbo-secret-value"


@pytest.fixture
def fake_xero() -> Iterator[FakeXero]:
    with FakeXero(XERO_SAMPLE, client_secret=XERO_SECRET) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _small_pages_and_short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 5 (so the samples span several pages) and no long backoffs."""
    monkeypatch.setattr(xero_module, "PAGE_SIZE", 5)
    monkeypatch.setattr(quickbooks_module, "PAGE_SIZE", 5)
    monkeypatch.setattr(client_module, "BACKOFF_SECONDS", 0.01)
    monkeypatch.setattr(client_module, "_limiters", {})


def xero_source(fake: FakeXero, **kw: object) -> SourceSettings:
    values: dict[str, object] = {
        "name": "xero", "kind": "xero", "client_id": fake.tokens.client_id,
        "client_secret_env": "XERO_CLIENT_SECRET", "tenant_id": fake.tenant,
        "api_url": fake.url + API, "token_url": fake.url + fake.token_path,
    }  # fmt: skip
    values.update(kw)
    return SourceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def xero_settings(
    settings: Settings, fake_xero: FakeXero, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("XERO_CLIENT_SECRET", XERO_SECRET)
    return replace(settings, sources=(xero_source(fake_xero),))


def data_dir_files(settings: Settings) -> list[Path]:
    return [p for p in Path(settings.data_dir).rglob("*") if p.is_file()]


@pytest.fixture
def fake_qbo() -> Iterator[FakeQuickBooks]:
    with FakeQuickBooks(QBO_SAMPLE, client_secret=QBO_SECRET) as fake:
        yield fake


def qbo_source(fake: FakeQuickBooks, **kw: object) -> SourceSettings:
    values: dict[str, object] = {
        "name": "qbo", "kind": "quickbooks", "client_id": fake.tokens.client_id,
        "client_secret_env": "QBO_CLIENT_SECRET",
        "api_url": fake.url + QBO_API, "token_url": fake.url + fake.token_path,
    }  # fmt: skip
    values.update(kw)
    return SourceSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def qbo_settings(
    settings: Settings, fake_qbo: FakeQuickBooks, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("QBO_CLIENT_SECRET", QBO_SECRET)
    return replace(settings, sources=(qbo_source(fake_qbo),))
