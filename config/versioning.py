"""No lost updates: optimistic locking for edit forms.

A row that people edit (a draft document, a customer) carries an integer `version`. The edit
form sends back the version it loaded; the update service, holding the row lock, refuses a
save based on an older version and otherwise bumps the version in the same conditional
UPDATE (`... WHERE pk = %s AND version = %s`), so two saves can't both win.
"""

from django.core.exceptions import ValidationError
from django.db.models import F, Model
from django.utils import dateformat, timezone


def stale_message(by, at) -> str:
    who = str(by) if by is not None else "someone else"
    when = dateformat.format(timezone.localtime(at), "m/d/Y H:i") if at else "an unknown time"
    return f"Changed by {who} at {when} since you opened it."


class StaleVersion(ValidationError):
    """The row changed since the form was loaded; names who changed it and when."""

    def __init__(self, *, by=None, at=None, code="stale"):
        self.changed_by = by
        self.changed_at = at
        super().__init__(stale_message(by, at), code=code)

    @classmethod
    def for_row(cls, instance: Model):
        fresh = type(instance)._default_manager.select_related("updated_by").get(pk=instance.pk)
        return cls(by=fresh.updated_by, at=fresh.updated_at)


def refuse_if_stale(instance: Model, expected_version: int | None, error=StaleVersion) -> None:
    """Raise `error` when the caller loaded an older version than `instance` (read under the
    row lock) has. `None` means the caller didn't say (the admin, scripts): no check."""
    if expected_version is not None and instance.version != expected_version:
        raise error.for_row(instance)


def claim_version(instance: Model, expected_version: int | None, error=StaleVersion) -> None:
    """Check the version and bump it in one conditional UPDATE; sets `instance.version` to the
    new value so a later `save()` writes the same. Call it inside the service's transaction,
    after locking the row."""
    refuse_if_stale(instance, expected_version, error)
    current = instance.version
    claimed = (
        type(instance)
        ._default_manager.filter(pk=instance.pk, version=current)
        .update(version=F("version") + 1)
    )
    if not claimed:
        raise error.for_row(instance)
    instance.version = current + 1
