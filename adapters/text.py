"""Moved to ``adapters.toolkit.text``; this name stays only for ``sync``'s imports."""

from adapters.toolkit.text import HEAD_SIZE, Encoding, EncodingSniffer, decode_head

__all__ = ["HEAD_SIZE", "Encoding", "EncodingSniffer", "decode_head"]
