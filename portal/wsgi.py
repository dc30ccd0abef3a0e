"""The WSGI entry point: ``gunicorn 'portal.wsgi:app'`` (settings from BILLFOLD_CONFIG).

A worker that cannot serve (the schema is behind: run ``billfold db upgrade``; the
database cannot be reached; a bad setting) says why in one line on stderr and exits
with status 4, gunicorn's "the application failed to load": gunicorn then stops,
instead of restarting the worker again and again.

A worker that can serve writes its log lines in billfold's format (``[logging]
format``) and starts its outbox sender (``sync.access.sender``): mail left waiting by a
restart, or waiting for a retry, goes out from here as well as from ``billfold run``.
"""

import logging
import sys

from portal import create_app
from sync.errors import ConfigError, StoreError
from sync.log import configure

APP_LOAD_ERROR = 4  # gunicorn.arbiter.Arbiter.APP_LOAD_ERROR

try:
    app = create_app()
except (StoreError, ConfigError) as exc:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)
configure(logging.INFO, app.extensions["billfold"].settings.logging.format)
app.extensions["billfold"].mailer.start()
