"""gateway error facts and the downstream request id

Adds what a page needs to word a gateway failure in the reader's language (Capillary's error
code, its own message, the HTTP status) and Capillary's id of the downstream call, so the bulk
results file can list it. Additive and nullable: the previous release runs against it unchanged.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


# Plain ADD/DROP COLUMN (SQLite has both since 3.35): a batch copy of the table on SQLite could
# drop the predicates of the partial indexes these tables carry.


def upgrade():
    op.add_column("tracked_requests", sa.Column("error_code", sa.String(length=40), nullable=True))
    op.add_column("tracked_requests", sa.Column("error_detail", sa.Text(), nullable=True))
    op.add_column("tracked_requests", sa.Column("error_status", sa.Integer(), nullable=True))
    op.add_column("tracked_requests", sa.Column("downstream_request_id", sa.String(length=128), nullable=True))
    op.add_column("decisions", sa.Column("error_code", sa.String(length=40), nullable=True))


def downgrade():
    op.drop_column("decisions", "error_code")
    op.drop_column("tracked_requests", "downstream_request_id")
    op.drop_column("tracked_requests", "error_status")
    op.drop_column("tracked_requests", "error_detail")
    op.drop_column("tracked_requests", "error_code")
