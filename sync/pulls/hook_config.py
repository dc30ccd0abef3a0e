"""Which API sources take webhooks, and where each one's webhook key is read from.

An API source (``kind = "xero"`` or ``"quickbooks"`` in ``[[sources]]``) names the
environment variable that holds its webhook key with ``webhook_key_env``: Xero's
"webhooks key" (Developer portal > your app > Webhooks), QuickBooks' "verifier token"
(Developer portal > Webhooks). The key itself is never in the file or the database.
Calls are matched to a source by the organisation they name: Xero's ``tenantId``
against ``tenant_id``, QuickBooks' ``realmId`` against ``realm_id``.

``HookedSource`` declares the three keys webhooks need beside a source's others; when
the API source settings carry them (``sync.pulls.config``), they merge there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sync.config import Settings, SourceSettings

HOOK_KINDS = ("xero", "quickbooks")


@dataclass(frozen=True)
class HookedSource(SourceSettings):
    """A source's settings with what its webhooks need."""

    tenant_id: str = ""  # Xero: the organisation's tenant id
    realm_id: str = ""  # QuickBooks: the company's realm id
    webhook_key_env: str = ""  # the environment variable holding the webhook key


@dataclass(frozen=True)
class HookTarget:
    """A source that takes webhook calls: its name, system, organisation and key."""

    source: str
    kind: str  # "xero" or "quickbooks"
    organisation: str  # tenant id or realm id; "" matches any call the key signs
    key: bytes


def hook_targets(
    settings: Settings, kind: str, env: Mapping[str, str] | None = None
) -> list[HookTarget]:
    """The sources of *kind* whose webhook key is set in the environment."""
    env = os.environ if env is None else env
    found = []
    for source in settings.sources:
        if source.kind != kind:
            continue
        key_env = getattr(source, "webhook_key_env", "")
        key = env.get(key_env, "") if key_env else ""
        if not key:
            continue
        organisation = getattr(
            source, "tenant_id" if kind == "xero" else "realm_id", ""
        )
        found.append(HookTarget(source.name, kind, organisation or "", key.encode()))
    return found
