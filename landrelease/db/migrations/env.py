"""Alembic environment: runs on a connection handed over by :mod:`landrelease.db.migrate`.

Migrations are run from code (never from an ``alembic.ini``), so ``landrelease db upgrade``, the
demo and the tests go through one path. geoalchemy2's helpers make autogenerate understand
spatial columns and their indexes.
"""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

from landrelease.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=alembic_helpers.include_object,
    process_revision_directives=alembic_helpers.writer,
    render_item=alembic_helpers.render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
