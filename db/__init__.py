"""Storage: SQLModel tables, the engine and session, and Alembic migrations."""
