"""The WSGI entry point: ``gunicorn 'portal.wsgi:app'`` (settings from BILLFOLD_CONFIG)."""

from portal import create_app

app = create_app()
