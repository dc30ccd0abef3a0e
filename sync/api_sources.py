"""API source settings: the ``[[sources]]`` keys of ``kind = "xero" | "quickbooks"``.

``ApiKeys`` is a base of ``sync.config.SourceSettings`` (keyword-only fields, so they
follow the required ``name``); ``check_api_source`` is its part of the config check,
and ``client_secret`` reads the secret from the environment or a file, never the
config itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sync.errors import ConfigError, SourceError

API_KINDS = ("xero", "quickbooks")
XERO_API_URL = "https://api.xero.com/api.xro/2.0"
XERO_TOKEN_URL = "https://identity.xero.com/connect/token"  # noqa: S105 (a URL)
XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
QUICKBOOKS_API_URL = "https://quickbooks.api.intuit.com/v3/company"
QUICKBOOKS_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 (a URL)
QUICKBOOKS_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
DEFAULT_API_SCHEDULE = "every 15 minutes"


@dataclass(frozen=True, kw_only=True)
class ApiKeys:
    """What an API source adds to a source (empty for folders and buckets)."""

    client_id: str = ""
    client_secret_env: str = ""
    client_secret_file: str = ""
    tenant_id: str = ""
    realm_id: str = ""
    api_url: str = ""
    token_url: str = ""
    takes_over: str = ""
    webhook_key_env: str = ""  # the environment variable holding the webhook key

    @property
    def api_base(self) -> str:
        """The API's base URL: ``api_url``, else the real service's."""
        kind = getattr(self, "kind", "")
        default = XERO_API_URL if kind == "xero" else QUICKBOOKS_API_URL
        return (self.api_url or default).rstrip("/")

    @property
    def token_endpoint(self) -> str:
        """The token URL: ``token_url``, else the real service's."""
        kind = getattr(self, "kind", "")
        default = XERO_TOKEN_URL if kind == "xero" else QUICKBOOKS_TOKEN_URL
        return self.token_url or default


def check_api_source(
    source: ApiKeys, sources: Sequence[ApiKeys], key: str, where: str
) -> None:
    """Refuse an API source whose keys cannot work, naming the key."""
    kind = getattr(source, "kind", "")
    names = {getattr(s, "name", "") for s in sources if s is not source}
    api_only = ("client_id", "client_secret_env", "client_secret_file", "tenant_id",
                "realm_id", "api_url", "token_url", "takes_over",
                "webhook_key_env")  # fmt: skip
    if kind not in API_KINDS:
        for name in api_only:
            if getattr(source, name):
                raise ConfigError(
                    f'{key}.{name} in {where} is only for kind = "xero" or '
                    f'"quickbooks" sources'
                )
        return
    if not source.client_id.strip():
        raise ConfigError(f"{key}.client_id in {where} is required for a {kind} source")
    if bool(source.client_secret_env) == bool(source.client_secret_file):
        raise ConfigError(
            f"{key}.client_secret_env in {where}: set exactly one of client_secret_env "
            "(the name of an environment variable holding the secret) or "
            "client_secret_file (a file holding it); never the secret itself"
        )
    if kind == "xero" and source.realm_id:
        raise ConfigError(
            f"{key}.realm_id in {where} is for quickbooks; xero uses tenant_id"
        )
    if kind == "quickbooks" and source.tenant_id:
        raise ConfigError(
            f"{key}.tenant_id in {where} is for xero; quickbooks uses realm_id"
        )
    for name in ("api_url", "token_url"):
        value = getattr(source, name)
        if value and not value.lower().startswith(("https://", "http://")):
            raise ConfigError(
                f"{key}.{name} in {where} must be an http(s) URL, not {value!r}"
            )
    if source.takes_over and source.takes_over not in names:
        raise ConfigError(
            f"{key}.takes_over in {where} names {source.takes_over!r}, which is not "
            "another configured source"
        )


def client_secret(source: ApiKeys, name: str, base: Path) -> str:
    """Read the client secret of API source *name* from its variable or file (a
    relative file is relative to *base*, the config file's folder)."""
    if source.client_secret_env:
        value = os.environ.get(source.client_secret_env, "").strip()
        if not value:
            raise SourceError(
                f"source {name!r}: the environment variable "
                f"{source.client_secret_env} (client_secret_env) is not set; set it "
                "to the app's client secret"
            )
        return value
    try:
        value = (base / source.client_secret_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SourceError(
            f"source {name!r}: cannot read client_secret_file "
            f"{source.client_secret_file}: {exc.strerror or exc}"
        ) from exc
    if not value:
        raise SourceError(
            f"source {name!r}: client_secret_file {source.client_secret_file} is empty"
        )
    return value
