"""Ledger errors. They subclass ValidationError so views show them as form errors."""

from django.core.exceptions import ValidationError


class LedgerError(ValidationError):
    pass


class UnbalancedEntry(LedgerError):
    pass


class PeriodClosed(LedgerError):
    pass


class SystemAccountMissing(LedgerError):
    """No account holds a system role the services post to (see ledger.models.SystemRole)."""
