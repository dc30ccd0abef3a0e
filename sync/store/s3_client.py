"""S3 clients: the one place boto3 clients are built (sources and document storage).

Any S3-compatible service works through ``endpoint_url``; credentials come from
boto3's normal chain (environment, shared credentials file, instance role), never
from billfold's configuration.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# botocore retries requests itself; billfold retries whole downloads on top of that.
_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=10,
    read_timeout=60,
)


def s3_client(endpoint_url: str = "", region: str = "") -> Any:
    """Return a boto3 S3 client for *endpoint_url* (empty: AWS) in *region*."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        config=_CONFIG,
    )


def error_code(exc: Exception) -> str:
    """Return the S3 error code of a botocore ClientError (``NoSuchKey``, ``404`` …)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
