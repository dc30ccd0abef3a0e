"""Export originals in the blob store: with S3 storage any node serves an original and
publishes a staged batch another node imported; local originals kept before still work."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import select

from portal import create_app
from schemas.tables import ImportBatch
from sync.config import SourceSettings, StorageSettings
from sync.engine.pipeline import publish_staged
from sync.errors import UsageError
from sync.store.blobs import BlobMissing, read_original
from tests.helpers import SAMPLE_LEDGER, count, dump_business_tables, run_import
from tests.portal.test_admin import admin_sign_in
from tests.workers import free_port

B = ImportBatch.__table__


def node(settings, tmp_path, name, bucket=None):
    """One node: its own data directory, the shared database (and bucket)."""
    storage = (
        StorageSettings(
            backend="s3",
            bucket=bucket.name,
            prefix="billfold/",
            endpoint_url=bucket.endpoint,
        )
        if bucket is not None
        else StorageSettings()
    )
    return replace(
        settings,
        data_dir=tmp_path / name,
        storage=storage,
        sources=(SourceSettings(name="books", path="x", review=True),),
    )


def stored_path(store, batch_id):
    with store.read() as conn:
        return conn.execute(
            select(B.c.stored_path).where(B.c.id == batch_id)
        ).scalar_one()


def test_node_b_publishes_and_serves_what_node_a_imported(
    store, settings, bucket, tmp_path
):
    a = node(settings, tmp_path, "node-a", bucket)
    b = node(settings, tmp_path, "node-b", bucket)
    data = SAMPLE_LEDGER.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    before = dump_business_tables(store)

    staged = run_import(store, a, SAMPLE_LEDGER, source="books")

    assert staged.status == "staged"
    key = f"billfold/originals/{sha[:2]}/{sha}"
    assert stored_path(store, staged.batch_id) == f"s3://{bucket.name}/{key}"
    assert bucket.list_keys() == [key]
    assert dump_business_tables(store) == before
    assert not (b.data_dir / "originals").exists()  # node B has never seen the file

    published = publish_staged(store, b, staged.batch_id, "admin:b@example.com")

    assert published.status == "applied" and published.created == 25
    assert count(store, "invoice") == 14
    assert stored_path(store, published.batch_id) == f"s3://{bucket.name}/{key}"
    app = create_app(b, store=store)
    app.config["TESTING"] = True
    client = app.test_client()
    admin_sign_in(app, client)
    for batch_id in (staged.batch_id, published.batch_id):
        response = client.get(f"/admin/imports/{batch_id}/original")
        assert response.status_code == 200 and response.data == data


def test_an_original_gone_from_the_bucket_is_refused_with_what_to_do(
    store, settings, bucket, tmp_path
):
    a = node(settings, tmp_path, "node-a", bucket)
    b = node(settings, tmp_path, "node-b", bucket)
    staged = run_import(store, a, SAMPLE_LEDGER, source="books")
    (key,) = bucket.list_keys()
    bucket.client.delete_object(Bucket=bucket.name, Key=key)

    with pytest.raises(UsageError, match="import the file again"):
        publish_staged(store, b, staged.batch_id, "admin:b@example.com")
    with pytest.raises(BlobMissing):
        read_original(b, stored_path(store, staged.batch_id))
    assert count(store, "invoice") == 0


def test_local_originals_kept_before_the_move_to_s3_keep_working(
    store, settings, bucket, tmp_path
):
    local = node(settings, tmp_path, "node-a")
    staged = run_import(store, local, SAMPLE_LEDGER, source="books")
    kept = stored_path(store, staged.batch_id)
    assert kept == str(local.data_dir / "originals" / staged.sha256[:2] / staged.sha256)
    assert bucket.list_keys() == []

    upgraded = replace(local, storage=node(settings, tmp_path, "x", bucket).storage)
    assert read_original(upgraded, kept) == SAMPLE_LEDGER.read_bytes()
    published = publish_staged(store, upgraded, staged.batch_id, "admin:a@example.com")
    assert published.status == "applied" and published.created == 25


def test_a_path_that_is_not_an_original_is_never_read(store, settings, tmp_path):
    local = node(settings, tmp_path, "node-a")
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    for path in (str(secret), str(local.data_dir / "originals" / ".." / ".." / "s")):
        with pytest.raises(BlobMissing, match="not a kept original"):
            read_original(local, path)


def test_an_unreachable_bucket_fails_the_import_to_be_retried_saying_why(
    store, settings, tmp_path, aws_env
):
    closed = StorageSettings(
        backend="s3",
        bucket="nowhere",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        region="us-east-1",
    )
    node_a = replace(node(settings, tmp_path, "node-a"), storage=closed)

    result = run_import(store, node_a, SAMPLE_LEDGER, source="books")

    assert (result.status, result.batch_id) == ("failed", None)
    assert result.reason.startswith("cannot keep the original in storage: ")
    assert count(store, "import_batch") == 0 and count(store, "invoice") == 0
