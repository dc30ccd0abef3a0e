"""The WSGI entry point: ``gunicorn 'portal.wsgi:app'`` (settings from BILLFOLD_CONFIG).

A worker that cannot serve (the schema is behind: run ``billfold db upgrade``; the
database cannot be reached; a bad setting) says why in one line on stderr and exits
with status 4, gunicorn's "the application failed to load": gunicorn then stops,
instead of restarting the worker again and again.
"""

import sys

from portal import create_app
from sync.errors import ConfigError, StoreError

APP_LOAD_ERROR = 4  # gunicorn.arbiter.Arbiter.APP_LOAD_ERROR

try:
    app = create_app()
except (StoreError, ConfigError) as exc:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(APP_LOAD_ERROR)
