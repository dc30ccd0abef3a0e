"""Fixtures for source tests: a real S3 endpoint (moto's server mode) on localhost."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.workers import AWS_ENV, CuttingProxy, free_port


@pytest.fixture(autouse=True)
def fresh_worker_registry() -> Iterator[None]:
    """Forget the claims and locks this process held in earlier tests.

    The registry stands for "this worker"; on PostgreSQL every test restarts ids at 1,
    so an id a previous test left held would make a new claim look held by us.
    """
    from sync.workers import claims

    yield
    with claims._held_mutex:
        claims._held_claims.clear()
        claims._held_locks.clear()


@pytest.fixture
def inject_fault(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set BILLFOLD_FAULT for this process; hit counts start and end at zero."""
    from sync import faults

    def inject(spec: str | None) -> None:
        faults._hits.clear()
        if spec is None:
            monkeypatch.delenv("BILLFOLD_FAULT", raising=False)
        else:
            monkeypatch.setenv("BILLFOLD_FAULT", spec)

    yield inject
    faults._hits.clear()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """An S3 HTTP endpoint on localhost: moto's ThreadedMotoServer (real HTTP)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Test credentials for boto3 in this process (workers get the same)."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    return AWS_ENV


@dataclass
class Bucket:
    """A fresh bucket on the test endpoint and a client that talks HTTP to it."""

    name: str
    endpoint: str
    client: Any

    def put(self, key: str, body: bytes) -> str:
        """Upload *body*; return the object's ETag (without quotes)."""
        return self.client.put_object(Bucket=self.name, Key=key, Body=body)[
            "ETag"
        ].strip('"')

    def list_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


@pytest.fixture
def bucket(s3_endpoint: str, aws_env: dict[str, str]) -> Bucket:
    from sync.store.s3_client import s3_client

    client = s3_client(s3_endpoint, "us-east-1")
    name = f"exports-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(name, s3_endpoint, client)


@pytest.fixture
def cutting_proxy(s3_endpoint: str) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(s3_endpoint)
    yield proxy
    proxy.close()
