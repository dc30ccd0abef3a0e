"""Errors of the sync engine. Each message says what, where, and what to do next.

SyncError                 base class
 +-- ConfigError          a setting is missing, unknown or of the wrong type (names the
 |                        key and the file)
 +-- StoreError           the database cannot be reached, is locked, or needs migrating
 +-- UsageError           a command was asked for something that does not exist (an
 |                        unknown account, source or record)
 +-- AccountHeld          the portal cannot open to an account whose customer id carried
 |                        several names until an admin confirms them (sync.identity)
 +-- SourceError          a source cannot be read now (folder missing, bucket
 |                        unreachable, download cut); the runner retries later
 +-- BackupError          a backup cannot be made or restored (the destination or the
                          store is not empty, pg_dump is missing, the backup is damaged)

Adapter errors (``adapters.errors``) are recorded against the file being imported; they
never surface as exceptions of the engine.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base class for errors of the sync engine."""


class ConfigError(SyncError):
    """A configuration problem, with the key and the file it came from."""


class StoreError(SyncError):
    """The store cannot do what was asked (unreachable, locked, not migrated)."""


class UsageError(SyncError):
    """A command named something that does not exist."""


class AccountHeld(SyncError):
    """An account waits for an admin to confirm its names before the portal opens."""


class SourceError(SyncError):
    """A source cannot be read now; the runner records it and tries again later."""


class BackupError(SyncError):
    """A backup cannot be made, or restored, and why."""
