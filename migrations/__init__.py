"""Alembic migrations. The wheel ships this folder as the package `app.migrations`."""
