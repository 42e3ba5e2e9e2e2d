"""Store: SQLAlchemy tables, the async engine/session, and shared queries."""
