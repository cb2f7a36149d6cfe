"""Store scoping: which stores a person may submit for, and which requests they may see.

A maker (a store manager) submits only for their assigned stores; an agent for any store.
The form is filled from the maker's assignment and shows the store as read-only, but the
rule is enforced here on the server: a changed store, zone or concept fails validation.
Makers see only their stores' requests; agents, checkers and admins see all of them.
"""

from __future__ import annotations

from types import SimpleNamespace

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Select, false
from wtforms.validators import ValidationError

from extensions import db
from models import Batch, TrackedRequest
from models.users import ADMIN, AGENT, CHECKER, MAKER, User

LOCATION_FIELDS = ("storeId", "zoneId", "conceptId", "tillId")


def submit_stores(user: User) -> tuple[str, ...] | None:
    """Return the store IDs the user may submit for, or None for "any store" (agents, administrators)."""
    if user.has_role(AGENT, ADMIN):
        return None
    return user.store_ids if user.has_role(MAKER) else ()


def visible_stores(user: User) -> tuple[str, ...] | None:
    """Return the store IDs whose requests the user may see, or None for all."""
    if user.has_role(AGENT, CHECKER, ADMIN):
        return None
    return user.store_ids


def can_view(user: User, record: TrackedRequest) -> bool:
    """Whether the user may open this request."""
    stores = visible_stores(user)
    return stores is None or record.store_id in stores or record.submitted_by_id == user.id


def visible(stmt: Select, user: User) -> Select:
    """Narrow a SELECT of TrackedRequest to what the user may see."""
    stores = visible_stores(user)
    if stores is None:
        return stmt
    if not stores:
        return stmt.where(TrackedRequest.submitted_by_id == user.id) if user.id else stmt.where(false())
    return stmt.where(TrackedRequest.store_id.in_(stores) | (TrackedRequest.submitted_by_id == user.id))


def prefill(form, user: User) -> None:
    """Fill empty location fields from the maker's first store and lock what is theirs to lock."""
    stores = submit_stores(user)
    if not stores:
        return
    chosen = user.assignment(form.storeId.data or "") or user.stores[0]
    for field, value in ((form.storeId, chosen.store_id), (form.zoneId, chosen.zone_id),
                         (form.conceptId, chosen.concept_id), (form.tillId, chosen.till_id)):
        if value and not field.data:
            field.data = value
    if len(stores) == 1:
        # Read-only, not disabled: a disabled input is not posted. The server checks it anyway.
        form.storeId.render_kw = {**(form.storeId.render_kw or {}), "readonly": True}
        for field, value in ((form.zoneId, chosen.zone_id), (form.conceptId, chosen.concept_id)):
            if value:
                field.render_kw = {**(field.render_kw or {}), "readonly": True}


def store_hint(user: User) -> str | None:
    """The hint under the store field for a maker: which stores are theirs."""
    stores = submit_stores(user)
    if not stores:
        return None
    if len(stores) == 1:
        return _("Your store (%(store)s): makers submit only for their own stores.", store=stores[0])
    return _("Your stores: %(stores)s. Makers submit only for their own stores.", stores=", ".join(stores))


def validators(user: User) -> dict:
    """Extra WTForms validators enforcing the user's store scope (for ``form.validate``)."""
    stores = submit_stores(user)
    if stores is None:
        return {}

    def store_is_theirs(form, field):
        if field.data and field.data not in stores:
            if not stores:
                raise ValidationError(_("You have no store assigned, so you cannot submit for a store. "
                                        "Ask an administrator to assign yours."))
            raise ValidationError(ngettext("You can only submit for your own store: %(stores)s.",
                                           "You can only submit for your own stores: %(stores)s.", len(stores),
                                           stores=", ".join(stores)))

    def in_zone(store: str, expected: str) -> str:
        return _("Store %(store)s is in zone %(zone)s.", store=store, zone=expected)

    def in_concept(store: str, expected: str) -> str:
        return _("Store %(store)s is in concept %(concept)s.", store=store, concept=expected)

    def at_till(store: str, expected: str) -> str:
        return _("At store %(store)s you submit from till %(till)s.", store=store, till=expected)

    def matches_assignment(attribute: str, words):
        def check(form, field):
            assignment = user.assignment(form.storeId.data or "")
            expected = getattr(assignment, attribute, "") if assignment else ""
            if assignment and expected and field.data != expected:
                raise ValidationError(words(assignment.store_id, expected))
        return check

    return {
        "storeId": [store_is_theirs],
        "zoneId": [matches_assignment("zone_id", in_zone)],
        "conceptId": [matches_assignment("concept_id", in_concept)],
        # An assignment naming a till binds the maker to it, as it does to the zone and concept.
        "tillId": [matches_assignment("till_id", at_till)],
    }


def submit_refusal(user: User, values: dict) -> str | None:
    """Why ``user`` may not submit a request with these location ``values`` today (None when they may).

    The request form's own store rules (:func:`validators`), for a request sent again without the
    form: a maker moved off a store may still open their old requests there, not send them again.
    """
    fields = {name: SimpleNamespace(data=values.get(name) or "") for name in LOCATION_FIELDS}
    form = SimpleNamespace(**fields)
    for name, checks in validators(user).items():
        for check in checks:
            try:
                check(form, fields[name])
            except ValidationError as exc:
                return str(exc)
    return None

# -- the maker-checker rule ----------------------------------------------------------------------

def decision_refusal(user: User, record: TrackedRequest) -> str | None:
    """Say why ``user`` may not decide ``record`` (None when they may)."""
    if not user.has_role(CHECKER):
        return _("Only a checker can approve or reject requests.")
    if user.id in makers_of(record):
        return _("You submitted this request, so another checker must approve or reject it (maker-checker rule).")
    return None


def makers_of(record: TrackedRequest) -> set[int]:
    """The user ids that made ``record``: its submitter; for a bulk row, who uploaded and who confirmed the file."""
    makers = {record.submitted_by_id} if record.submitted_by_id is not None else set()
    if record.batch_id is not None:
        batch = db.session.get(Batch, record.batch_id)
        if batch is not None:
            makers |= {person for person in (batch.created_by_id, batch.confirmed_by_id) if person is not None}
    return makers


def can_decide(user: User, record: TrackedRequest) -> bool:
    """Whether ``user`` may approve or reject ``record``: a checker, and not the one who submitted it."""
    return decision_refusal(user, record) is None
