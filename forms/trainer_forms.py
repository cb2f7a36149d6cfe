"""Forms of the trainer page (sandbox mode only): settings, faults, seeded requests."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from forms.base import AppForm
from i18n import translated

ENDPOINT_CHOICES = [
    SelectChoice("any", _l("Any gateway call")),
    SelectChoice("create", _l("Submitting a request")),
    SelectChoice("approve", _l("Approving or rejecting")),
    SelectChoice("get", _l("Checking one request's status")),
    SelectChoice("list", _l("Listing requests (sync, approvals, reconciliation)")),
    SelectChoice("lookup", _l("Looking a customer up")),
    SelectChoice("statuslog", _l("Reading a customer's status log")),
]
# The faults a trainer most often shows, first; every other preset follows.
FEATURED_FAULTS = ("timeout", "500", "401", "400-empty", "unreadable", "code-2013", "code-2001", "failed-744")


class WholeNumber(IntegerField):
    """A whole number within ``[low, high]``, checked while parsing.

    WTForms' NumberRange compares through ``float()``, which overflows on a 400-digit number;
    parsing with a length limit first turns any such input into the same plain message.
    """

    def __init__(self, label, low: int, high: int, message, **kwargs):
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


class SandboxSettingsForm(AppForm):
    """The sandbox's behaviour switches."""

    auto_approve = BooleanField(_l("Approve new requests automatically (Capillary's auto-approval)"))
    forbid_self_approval = BooleanField(
        _l("A maker's own approval fails with 403 (Capillary's checker-access check)"))
    latency_ms = WholeNumber(_l("Extra delay on every gateway call (milliseconds)"), 0, 10_000,
                             _l("Enter a delay from 0 to 10000 milliseconds (0 for none)."), default=0)


class FaultForm(AppForm):
    """Make the next N gateway calls fail in a chosen way."""

    kind = SelectField(_l("What goes wrong"))
    count = WholeNumber(_l("For how many calls"), 1, 100, _l("Enter a number of calls from 1 to 100."), default=1)
    endpoint = SelectField(_l("Which calls"), choices=ENDPOINT_CHOICES, default="any")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from sandbox.faults import PRESETS  # only ever loaded in sandbox mode

        ordered = list(FEATURED_FAULTS) + [k for k in PRESETS if k not in FEATURED_FAULTS]
        self.kind.choices = [
            SelectChoice(k, _("%(kind)s: %(description)s", kind=k, description=translated(PRESETS[k])))
            for k in ordered
        ]


class SeedForm(AppForm):
    """Raise a request as if another maker had used Capillary's own UI."""

    customer = SelectField(_l("Customer"))
    label = SelectField(_l("New status label"))
    state = SelectField(_l("Its state in Capillary"), default="AdminTask", choices=[
        SelectChoice("AdminTask", _l("Waiting for approval")),
        SelectChoice("approved", _l("Approved")),
        SelectChoice("rejected", _l("Rejected")),
        SelectChoice("failed", _l("Failed (customer not found)")),
    ])
    # The default reason is a value sent to the sandbox's Capillary, not page text: not translated.
    reason = StringField(_l("Reason"), default="Raised in Capillary's own UI",
                         validators=[InputRequired(message=_l("Enter a reason.")),
                                     Length(3, 500, message=_l("Enter a reason of 3 to 500 characters."))])

    def __init__(self, customers: list[dict], *args, **kwargs):
        super().__init__(*args, **kwargs)
        from sandbox.workflow import LABELS

        self.customer.choices = [SelectChoice(str(c["id"]), f"{c['name']} ({c['label']})") for c in customers]
        self.label.choices = [SelectChoice(label) for label in LABELS]
