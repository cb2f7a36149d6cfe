"""Forms of the trainer page (sandbox mode only): settings, faults, seeded requests."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

ENDPOINT_CHOICES = [
    SelectChoice("any", "Any gateway call"),
    SelectChoice("create", "Submitting a request"),
    SelectChoice("approve", "Approving or rejecting"),
    SelectChoice("get", "Checking one request's status"),
    SelectChoice("list", "Listing requests (sync, approvals, reconciliation)"),
]
# The faults a trainer most often shows, first; every other preset follows.
FEATURED_FAULTS = ("timeout", "500", "401", "400-empty", "unreadable")


class WholeNumber(IntegerField):
    """A whole number within ``[low, high]``, checked while parsing.

    WTForms' NumberRange compares through ``float()``, which overflows on a 400-digit number;
    parsing with a length limit first turns any such input into the same plain message.
    """

    def __init__(self, label, low: int, high: int, message: str, **kwargs):
        super().__init__(label, validators=[InputRequired(message=message)], **kwargs)
        self.low, self.high, self.message = low, high, message

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        text = valuelist[0].strip()
        self.data = None
        if len(text) > 12 or not text.lstrip("-").isdigit() or not self.low <= int(text) <= self.high:
            raise ValueError(self.message)
        self.data = int(text)


class SandboxSettingsForm(FlaskForm):
    """The sandbox's behaviour switches."""

    auto_approve = BooleanField("Approve new requests automatically (Capillary's auto-approval)")
    forbid_self_approval = BooleanField("A maker's own approval fails with 403 (Capillary's checker-access check)")
    latency_ms = WholeNumber("Extra delay on every gateway call (milliseconds)", 0, 10_000,
                             "Enter a delay from 0 to 10000 milliseconds (0 for none).", default=0)


class FaultForm(FlaskForm):
    """Make the next N gateway calls fail in a chosen way."""

    kind = SelectField("What goes wrong")
    count = WholeNumber("For how many calls", 1, 100, "Enter a number of calls from 1 to 100.", default=1)
    endpoint = SelectField("Which calls", choices=ENDPOINT_CHOICES, default="any")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from sandbox.faults import PRESETS  # only ever loaded in sandbox mode

        ordered = list(FEATURED_FAULTS) + [k for k in PRESETS if k not in FEATURED_FAULTS]
        self.kind.choices = [SelectChoice(k, f"{k}: {PRESETS[k]}") for k in ordered]


class SeedForm(FlaskForm):
    """Raise a request as if another maker had used Capillary's own UI."""

    customer = SelectField("Customer")
    label = SelectField("New status label")
    state = SelectField("Its state in Capillary", default="AdminTask", choices=[
        SelectChoice("AdminTask", "Waiting for approval"),
        SelectChoice("approved", "Approved"),
        SelectChoice("rejected", "Rejected"),
        SelectChoice("failed", "Failed (customer not found)"),
    ])
    reason = StringField("Reason", default="Raised in Capillary's own UI",
                         validators=[InputRequired(message="Enter a reason."),
                                     Length(3, 500, message="Enter a reason of 3 to 500 characters.")])

    def __init__(self, customers: list[dict], *args, **kwargs):
        super().__init__(*args, **kwargs)
        from sandbox.workflow import LABELS

        self.customer.choices = [SelectChoice(str(c["id"]), f"{c['name']} ({c['label']})") for c in customers]
        self.label.choices = [SelectChoice(label) for label in LABELS]
