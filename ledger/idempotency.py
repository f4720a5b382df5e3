"""One idempotency mechanism for every state-changing service (Stripe's idempotency keys).

A form renders a fresh key; the service runs its work through `run_once`. The key row is
claimed by `INSERT … ON CONFLICT DO NOTHING` inside the service's transaction, before any
other lock, so:

- a re-sent form (double click, back button, retry) finds the committed row and gets the
  first result back — never a second effect;
- two identical requests at once: the second's INSERT waits on the unique index until the
  first transaction ends, then returns the first result (or, if the first failed and
  rolled back, does the work itself) — never a 500;
- a key reused for another action or by another user is refused with a message.
"""

import re
from collections.abc import Callable

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from ledger.models import IdempotencyKey

_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class DuplicateRequest(ValidationError):
    """The key was already used for a different action."""


def clean_key(key: str) -> str:
    key = (key or "").strip()
    if key and not _KEY.match(key):
        raise ValidationError(
            {"key": "This form's one-time key is malformed; reload the page."}, code="bad_key"
        )
    return key


def _claim(key: str, scope: str, user_id: int) -> bool:
    """Insert the key row; False when it already exists (after waiting for its writer)."""
    table = IdempotencyKey._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, scope, user_id, created_at) "  # noqa: S608 - table name is ours
            "VALUES (%s, %s, %s, %s) ON CONFLICT (key) DO NOTHING RETURNING id",
            [key, scope, user_id, timezone.now()],
        )
        return cursor.fetchone() is not None


def run_once(
    *,
    key: str,
    scope: str,
    by,
    work: Callable[[], object],
    store: Callable[[object], object] | None = None,
    load: Callable[[object], object] | None = None,
):
    """Run `work()` once per `key` and return its result; a duplicate returns the first
    result instead. `store(result)` names the model instance to remember (default: the
    result itself) and `load(instance)` rebuilds the result from it (default: itself)."""
    key = clean_key(key)
    if not key:
        return work()
    with transaction.atomic():
        if _claim(key, scope, by.pk):
            result = work()
            stored = store(result) if store else result
            if stored is not None:
                IdempotencyKey.objects.filter(key=key).update(
                    result_type=ContentType.objects.get_for_model(stored), result_id=stored.pk
                )
            return result
    row = IdempotencyKey.objects.select_related("result_type").get(key=key)
    if row.scope != scope or row.user_id != by.pk:
        raise DuplicateRequest(
            "This form was already used for something else; reload the page and try again.",
            code="key_reused",
        )
    first = row.result
    return load(first) if load else first


def was_used(key: str) -> bool:
    key = (key or "").strip()
    return bool(key) and IdempotencyKey.objects.filter(key=key).exists()


def first_result(key: str, *, scope: str, by):
    """What the request that first used `key` produced (for a view answering a re-sent
    form without calling the service again); None if the key is unused."""
    key = (key or "").strip()
    row = IdempotencyKey.objects.filter(key=key).select_related("result_type").first()
    if row is None:
        return None
    if row.scope != scope or row.user_id != by.pk:
        raise DuplicateRequest(
            "This form was already used for something else; reload the page and try again.",
            code="key_reused",
        )
    return row.result
