"""The security suite reuses the portal's two-tenant fixtures."""

from tests.portal.conftest import (  # noqa: F401
    app,
    client,
    portal_settings,
    smtp_sink,
    world,
    world_template,
)
