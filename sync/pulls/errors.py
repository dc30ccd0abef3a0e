"""Errors of API pulls. Messages never hold a token or a client secret.

SourceError (sync.errors)
 +-- PullError              a pull could not finish now (service down, page not
      |                     applied); the next scheduled pull resumes where it stopped
      +-- NotConnected      no usable tokens: an admin must connect the source first
      +-- ConnectionRevoked the service refused the stored tokens (400 invalid_grant,
                            401 after a refresh): not retried until an admin reconnects
"""

from __future__ import annotations

from sync.errors import SourceError


class PullError(SourceError):
    """A pull stopped before it finished; it resumes from its last committed page."""


class NotConnected(PullError):
    """The source has no tokens yet (QuickBooks before "Connect")."""


class ConnectionRevoked(PullError):
    """The service refused the connection's tokens; an admin must reconnect."""
