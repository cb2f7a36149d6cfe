"""A checker's decision: approve or reject, with the message Capillary passes to the maker."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from services.approvals import MESSAGE_MAX


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class DecisionForm(FlaskForm):
    """Approve or reject one request waiting in AdminTask."""

    decision = RadioField(
        "Decision",
        choices=[
            SelectChoice("approved", "Approve: Capillary then changes the customer's status"),
            SelectChoice("rejected", "Reject: the customer's status stays as it is"),
        ],
        validators=[InputRequired(message="Choose approve or reject.")],
    )
    message = TextAreaField(
        "Message to the maker",
        filters=[_strip],
        validators=[
            DataRequired(message="Enter a message for the maker: it is sent to Capillary with the decision."),
            Length(max=MESSAGE_MAX, message=f"The message must be at most {MESSAGE_MAX} characters."),
        ],
    )
    # "review" shows the confirmation page; "confirm" sends the decision.
    step = HiddenField(default="review")
