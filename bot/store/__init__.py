"""Persistence: SQLAlchemy async tables, repositories, Alembic migrations, full-text search."""
