"""checking a bulk file's customers in Capillary

Per row: the outcome of the customer check (found, not_found, invalid, noop, duplicate,
lookup_failed) and the customer's current label; per file: where the check stands. Never a
name. Additive and nullable: the previous release runs against it unchanged (it never sends a
row the check left out, whose status is ``skipped``).

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ROW_COLUMNS = (
    ("customer_check", sa.String(length=16)),
    ("customer_label", sa.String(length=128)),
)
BATCH_COLUMNS = (
    ("check_state", sa.String(length=16)),
)


def upgrade():
    for name, kind in ROW_COLUMNS:
        op.add_column("batch_rows", sa.Column(name, kind, nullable=True))
    for name, kind in BATCH_COLUMNS:
        op.add_column("batches", sa.Column(name, kind, nullable=True))


def downgrade():
    for name, _kind in reversed(BATCH_COLUMNS):
        op.drop_column("batches", name)
    for name, _kind in reversed(ROW_COLUMNS):
        op.drop_column("batch_rows", name)
