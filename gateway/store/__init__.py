"""The gateway's own store: SQLAlchemy 2 async models and Alembic migrations."""
