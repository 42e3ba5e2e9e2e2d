"""Shared test helpers: databases, a running app, a client."""
