"""Web forms (Flask-WTF) and the field rules they share with the CSV importer."""

from forms.request_form import StatusChangeForm

__all__ = ["StatusChangeForm"]
