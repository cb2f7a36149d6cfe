"""the trainer role, and decisions on many requests at once

Allows the role ``trainer`` (the training sandbox's switches, faults and reset) in
``user_roles``, and adds ``decision_runs`` with their ``decision_run_items`` (one decision and
message for many waiting requests, sent by a background job). Widening a check constraint and
new tables only: the previous release runs against it unchanged.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_OLD = "role IN ('maker', 'agent', 'checker', 'admin')"
_NEW = "role IN ('maker', 'agent', 'checker', 'admin', 'trainer')"


def _known_role(condition: str) -> None:
    # A batch copy on SQLite (no ALTER of a constraint there); user_roles has no partial index to lose.
    with op.batch_alter_table("user_roles", recreate="auto") as batch:
        batch.drop_constraint("known_role", type_="check")
        batch.create_check_constraint("known_role", condition)


def upgrade():
    _known_role(_NEW)
    op.create_table(
        "decision_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_decision_runs_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_runs")),
        sa.UniqueConstraint("run_key", name=op.f("uq_decision_runs_run_key")),
    )
    op.create_table(
        "decision_run_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tracked_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["decision_runs.id"], name=op.f("fk_decision_run_items_run_id_decision_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tracked_pk"], ["tracked_requests.id"],
                                name=op.f("fk_decision_run_items_tracked_pk_tracked_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_run_items")),
        sa.UniqueConstraint("run_id", "tracked_pk", name=op.f("uq_decision_run_items_run_id_tracked_pk")),
    )
    op.create_index("ix_decision_run_items_run_status", "decision_run_items", ["run_id", "status", "position"])


def downgrade():
    op.drop_index("ix_decision_run_items_run_status", table_name="decision_run_items")
    op.drop_table("decision_run_items")
    op.drop_table("decision_runs")
    op.execute("DELETE FROM user_roles WHERE role = 'trainer'")
    _known_role(_OLD)
