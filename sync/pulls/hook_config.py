"""Which API sources take webhooks, and where each one's webhook key is read from.

An API source (``kind = "xero"`` or ``"quickbooks"`` in ``[[sources]]``) names the
environment variable that holds its webhook key with ``webhook_key_env``: Xero's
"webhooks key" (Developer portal > your app > Webhooks), QuickBooks' "verifier token"
(Developer portal > Webhooks). The key itself is never in the file or the database.
Calls are matched to a source by the organisation they name: Xero's ``tenantId``
against ``tenant_id``, QuickBooks' ``realmId`` against ``realm_id``.
A QuickBooks realm id set by the admin's Connect (kept on the connection) counts as
if it were in the file: pass the stored ids as *stored*.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sync.config import Settings

HOOK_KINDS = ("xero", "quickbooks")


@dataclass(frozen=True)
class HookTarget:
    """A source that takes webhook calls: its name, system, organisation and key."""

    source: str
    kind: str  # "xero" or "quickbooks"
    organisation: str  # tenant id or realm id; "" matches any call the key signs
    key: bytes


def hook_targets(
    settings: Settings,
    kind: str,
    env: Mapping[str, str] | None = None,
    stored: Mapping[str, str | None] | None = None,
) -> list[HookTarget]:
    """The sources of *kind* whose webhook key is set in the environment; *stored* maps
    a source to the tenant or realm id its connection keeps."""
    env = os.environ if env is None else env
    found = []
    for source in settings.sources:
        if source.kind != kind:
            continue
        key = env.get(source.webhook_key_env, "") if source.webhook_key_env else ""
        if not key:
            continue
        organisation = (
            (source.tenant_id if kind == "xero" else source.realm_id)
            or (stored or {}).get(source.name)
            or ""
        )
        found.append(HookTarget(source.name, kind, organisation, key.encode()))
    return found
