"""identifier search by part of the value, any case; when a person last saw their requests

A trigram GIN index on lower(identifier_value) (PostgreSQL's pg_trgm), so the history's
"part of a number or e-mail" search (``lower(identifier_value) LIKE '%97803%'``) reads the index
instead of every row. The extension is created when missing: that needs a role allowed to
create it (a superuser, or the database owner on PostgreSQL 13+ where pg_trgm is trusted),
docs/OPERATIONS.md. On SQLite this migration changes nothing (the search scans the identifier
index there). Additive: the previous release runs against it unchanged.

Also users.my_requests_seen_at (nullable: when the person last opened "My requests"; the
header's badge counts decisions after it) and an index on a submitter's requests by last update.

Revision ID: 0013
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

SEARCH_INDEX = "ix_tracked_requests_identifier_trgm"


def upgrade():
    # Plain ADD COLUMN (as 0009): a batch copy on SQLite could drop partial index predicates.
    op.add_column("users", sa.Column("my_requests_seen_at", sa.DateTime(), nullable=True))
    op.create_index("ix_tracked_requests_submitter_updated", "tracked_requests", ["submitted_by_id", "updated_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # Name the operator class by the extension's schema: a DBA may have installed it elsewhere.
    where = bind.exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'").scalar_one()
    op.execute(f"CREATE INDEX {SEARCH_INDEX} ON tracked_requests "
               f"USING gin (lower(identifier_value) {where}.gin_trgm_ops)")


def downgrade():
    op.drop_index("ix_tracked_requests_submitter_updated", table_name="tracked_requests")
    op.drop_column("users", "my_requests_seen_at")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
    # The extension stays: other objects may use it, and dropping it needs the same rights.
