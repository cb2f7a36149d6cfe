"""The maker-checker rule: who may approve or reject a request.

Kept apart from the views so the approvals service and the pages apply the same rule.
"""

from __future__ import annotations

from flask_babel import gettext as _

from models import TrackedRequest
from models.users import CHECKER, User


def decision_refusal(user: User, record: TrackedRequest) -> str | None:
    """Say why ``user`` may not decide ``record`` (None when they may)."""
    if not user.has_role(CHECKER):
        return _("Only a checker can approve or reject requests.")
    if record.submitted_by_id is not None and record.submitted_by_id == user.id:
        return _("You submitted this request, so another checker must approve or reject it (maker-checker rule).")
    return None


def can_decide(user: User, record: TrackedRequest) -> bool:
    """Whether ``user`` may approve or reject ``record``: a checker, and not the one who submitted it."""
    return decision_refusal(user, record) is None
