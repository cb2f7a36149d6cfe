"""A checker's decision: approve or reject, with the message Capillary passes to the maker."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from forms.base import AppForm
from forms.validators import strip
from services.lifecycle.decisions import MESSAGE_MAX


class DecisionForm(AppForm):
    """Approve or reject one request waiting in AdminTask."""

    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice("approved", _l("Approve: Capillary then changes the customer's status")),
            SelectChoice("rejected", _l("Reject: the customer's status stays as it is")),
        ],
        validators=[InputRequired(message=_l("Choose approve or reject."))],
    )
    message = TextAreaField(
        _l("Message to the maker"),
        filters=[strip],
        validators=[
            DataRequired(message=_l("Enter a message for the maker: it is sent to Capillary with the decision.")),
            Length(max=MESSAGE_MAX, message=_l("The message must be at most %(max)s characters.", max=MESSAGE_MAX)),
        ],
    )
    # "review" shows the confirmation page; "confirm" sends the decision.
    step = HiddenField(default="review")
