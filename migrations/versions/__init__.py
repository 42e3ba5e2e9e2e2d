"""Alembic revisions (Alembic skips this file: it is not a revision)."""
