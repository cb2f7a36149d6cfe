"""A submitter's home: "My requests" with counts per state and the latest decisions, and the
header's badge when a decision on their requests arrived since they last looked.

Endpoint ``requests.mine`` (route in views/requests/__init__.py).
"""

from __future__ import annotations

from flask import abort, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from services.lifecycle import my_requests
from services.lifecycle.wording import STATES, outcome_of
from views.access import acting_person, allowed


def mine():
    """Show the person's counts and latest decisions, then remember that they have looked."""
    person = acting_person()
    if person is None:  # the access gate lets only signed-in makers and agents here
        abort(403)
    summary = my_requests.summary(person)
    outcomes = {record.id: outcome_of(record.state, record.details) for record in summary.decisions}
    page = render_template("requests/mine.html", summary=summary, outcomes=outcomes, person=person,
                           states=[state for state in STATES if summary.counts.get(state)])
    my_requests.mark_seen(person)
    return page


def new_decisions_badge() -> int:
    """The header's count of decisions the signed-in person has not seen (0 when the page is not theirs)."""
    person = acting_person()
    if person is None or request.endpoint == "requests.mine" or not allowed(person, "requests.mine"):
        return 0  # on "My requests" itself the new decisions are marked in the page
    try:
        return my_requests.new_decisions(person)
    except SQLAlchemyError:
        # Every page draws the header, error pages included: a database problem is the page's
        # to report, not the badge's.
        db.session.rollback()
        return 0
