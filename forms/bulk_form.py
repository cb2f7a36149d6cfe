"""The bulk CSV upload form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired

from forms.base import AppForm


class BulkUploadForm(AppForm):
    """Upload a CSV file made from the template."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file to upload."))])
