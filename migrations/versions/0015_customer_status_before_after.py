"""the customer's status before and after a request

The customer's status and label as Capillary's status log showed them when the request was
submitted and after it was applied (the verification), with when each was read
(docs/CAPILLARY_API.md §10). Never a name. Additive and nullable: the previous release runs
against it unchanged.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMNS = (
    ("customer_status_before", sa.String(length=64)),
    ("customer_label_before", sa.String(length=128)),
    ("customer_before_at", sa.DateTime()),
    ("customer_status_after", sa.String(length=64)),
    ("customer_label_after", sa.String(length=128)),
    ("customer_after_at", sa.DateTime()),
)


# Plain ADD/DROP COLUMN (as 0009): a batch copy of the table on SQLite could drop the predicates
# of the partial indexes it carries.


def upgrade():
    for name, kind in COLUMNS:
        op.add_column("tracked_requests", sa.Column(name, kind, nullable=True))


def downgrade():
    for name, _kind in reversed(COLUMNS):
        op.drop_column("tracked_requests", name)
