"""Invoicing errors; ValidationErrors so views show them next to the field."""

from django.core.exceptions import ValidationError

from config.versioning import StaleVersion

POSTED_LOCKED_MESSAGE = "Posted invoices can't be changed — create a credit memo instead."


class InvoicingError(ValidationError):
    pass


class PostedDocumentLocked(InvoicingError):
    def __init__(self, message=POSTED_LOCKED_MESSAGE, code="posted_locked", params=None):
        super().__init__(message, code=code, params=params)


class OverCredit(InvoicingError):
    pass


class OverApplication(InvoicingError):
    pass


class StaleEdit(InvoicingError, StaleVersion):
    """A draft changed since the editor loaded it: "Changed by … at … since you opened it"."""
