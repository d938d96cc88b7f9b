"""Alembic environment. `storage.migrate` hands in an open connection, so migrations run
inside the application's own event loop on SQLite and PostgreSQL alike."""

from alembic import context

from storage.tables import metadata
import storage.case_tables  # noqa: F401  (registers the case tables on the metadata)
import storage.volunteer_tables  # noqa: F401  (and the volunteering tables)
import storage.audit_tables  # noqa: F401  (and the audit log)

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `redgrid migrate` (storage.migrate), which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
