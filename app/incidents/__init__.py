"""The incident core: the typed incident, its store, its state changes, holds and actions."""
