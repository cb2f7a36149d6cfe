"""who confirmed a bulk file

Records the person who confirmed a bulk file (``batches.confirmed_by_id``): with the uploader,
a maker of each of its rows, so neither may approve or reject them (the maker-checker rule).
Additive and nullable: the previous release runs against it unchanged.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# A plain ADD COLUMN without a foreign key: on SQLite a constraint means rebuilding the table, and
# dropping the old one would cascade-delete its batch_rows.


def upgrade():
    op.add_column("batches", sa.Column("confirmed_by_id", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("batches", "confirmed_by_id")
