"""Moved to ``adapters.toolkit.columns``; this name stays only for ``sync``'s imports."""

from adapters.toolkit.columns import nfc_key, normalise_header

__all__ = ["nfc_key", "normalise_header"]
