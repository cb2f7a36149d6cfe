"""the trainer role

Allows the role ``trainer`` (the training sandbox's switches, faults and reset) in
``user_roles``. Widening the check constraint only: the previous release runs against it
unchanged (it never writes the new role).

Revision ID: 0012
Revises: 0009
"""
from alembic import op

revision = "0012"
down_revision = "0009"
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


def downgrade():
    op.execute("DELETE FROM user_roles WHERE role = 'trainer'")
    _known_role(_OLD)
