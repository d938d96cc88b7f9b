"""Storage: SQLAlchemy 2 (async) tables, the unit of work that implements `core.ports`, migrations."""
