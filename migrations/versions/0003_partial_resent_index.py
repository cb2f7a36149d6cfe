"""resent_from index only over resent requests

The plain index on tracked_requests.resent_from_id holds a NULL for almost every row; with
planner statistics (after ANALYZE) the status page's "was this resent?" lookup then scans the
table instead. A partial index WHERE resent_from_id IS NOT NULL is small and always used.
Hand-written (autogenerate does not compare index predicates), so scripts/regenerate-migration
keeps it.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NAME = "ix_tracked_requests_resent_from"
RESENT = sa.text("resent_from_id IS NOT NULL")


def upgrade():
    op.drop_index(NAME, table_name="tracked_requests")
    op.create_index(NAME, "tracked_requests", ["resent_from_id"], sqlite_where=RESENT, postgresql_where=RESENT)


def downgrade():
    op.drop_index(NAME, table_name="tracked_requests")
    op.create_index(NAME, "tracked_requests", ["resent_from_id"])
