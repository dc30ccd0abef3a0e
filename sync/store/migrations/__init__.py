"""Alembic migrations of the store; ``billfold db upgrade`` runs them."""
