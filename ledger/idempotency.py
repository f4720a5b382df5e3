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

A service that knows what it will make can have the claim do more in the same statement
(`Claim`): reserve the ids of its result rows (so the key names its result at once, no
later UPDATE) and insert one row of its own (Apply Credit's batch) — on PostgreSQL one
round trip claims, reserves and inserts; elsewhere the same happens in a few statements.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
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


@dataclass
class Claim:
    """What a claim does besides inserting the key: name its result at once — the row
    `result_pk` of model `result` when the work's result is known (the document posted),
    else the first of `reserve` ids of `result` reserved for the rows the work makes —
    and insert `row` (unsaved). After the claim, `ids` holds the reserved ids (empty when
    none could be reserved: the work then lets the database number its rows) and `row` is
    saved."""

    result: type[models.Model] | None = None
    reserve: int = 0
    result_pk: int | None = None
    row: models.Model | None = None
    ids: list[int] = field(default_factory=list)


def _row_insert(row: models.Model):
    """(columns, typed placeholders, params) inserting `row` without its primary key."""
    fields = [f for f in row._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(f"%s::{f.db_type(connection)}" for f in fields)
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
    return columns, placeholders, params


def _claim_with(key: str, scope: str, user_id: int, claim: Claim) -> bool:
    """PostgreSQL: the key claim, the ids reserved and `claim.row` in ONE statement; no
    row is inserted and no id kept when the key was already used."""
    key_table = IdempotencyKey._meta.db_table
    result_type = ContentType.objects.get_for_model(claim.result) if claim.result else None
    count = claim.reserve if claim.result and claim.result_pk is None else 0
    named = "(SELECT min(id) FROM ids)" if count else ""
    if claim.result_pk is not None:
        named = str(int(claim.result_pk))
    sequence = "NULL"
    if count:
        meta = claim.result._meta
        sequence = f"pg_get_serial_sequence('{meta.db_table}', '{meta.pk.column}')"
    sql = [
        f"WITH ids AS (SELECT nextval({sequence}) AS id FROM generate_series(1, %s)), "  # noqa: S608 - our tables
        f"claimed AS (INSERT INTO {key_table} "
        "(key, scope, user_id, created_at, result_type_id, result_id) "
        f"VALUES (%s, %s, %s, %s, %s, {named or 'NULL'}) "
        "ON CONFLICT (key) DO NOTHING RETURNING id)"
    ]
    params = [count, key, scope, user_id, timezone.now(), result_type.pk if named else None]
    made = "NULL::bigint"
    if claim.row is not None:
        meta = claim.row._meta
        columns, placeholders, row_params = _row_insert(claim.row)
        sql.append(
            f", made AS (INSERT INTO {meta.db_table} ({columns}) "  # noqa: S608 - our tables
            f"SELECT {placeholders} FROM claimed RETURNING {meta.pk.column} AS id)"
        )
        params += row_params
        made = "(SELECT id FROM made)"
    sql.append(f" SELECT {made}, ARRAY(SELECT id FROM ids ORDER BY id) FROM claimed")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute("".join(sql), params)
        found = cursor.fetchone()
    if found is None:
        return False
    if claim.row is not None:
        claim.row.pk = found[0]
        claim.row._state.adding = False
    claim.ids = list(found[1] or [])
    return True


def run_once(
    *,
    key: str,
    scope: str,
    by,
    work: Callable[..., object],
    store: Callable[[object], object] | None = None,
    load: Callable[[object], object] | None = None,
    claim: Claim | None = None,
):
    """Run `work()` once per `key` and return its result; a duplicate returns the first
    result instead. `store(result)` names the model instance to remember (default: the
    result itself) and `load(instance)` rebuilds the result from it (default: itself).
    With a `claim`, `work(claim)` is called: its row saved and, on PostgreSQL, its ids
    reserved by the claim itself.

    No savepoint of its own: it runs inside the service's transaction (a failure rolls
    all of it back), so the claim costs one statement, not three."""
    key = clean_key(key)
    call = work if claim is None else (lambda: work(claim))
    if not key:
        if claim is not None and claim.row is not None:
            claim.row.save()
        return call()
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql" and claim is not None:
            claimed = _claim_with(key, scope, by.pk, claim)
        else:
            claimed = _claim(key, scope, by.pk)
            if claimed and claim is not None and claim.row is not None:
                claim.row.save()
        if claimed:
            result = call()
            stored = store(result) if store else result
            reserved = None
            if claim is not None and connection.vendor == "postgresql":
                reserved = (
                    claim.result_pk if claim.result_pk is not None else (claim.ids or [None])[0]
                )
            if reserved is not None and getattr(stored, "pk", None) != reserved:
                # The work didn't use the id the key already names: name what it made.
                IdempotencyKey.objects.filter(key=key).update(result_type=None, result_id=None)
                reserved = None
            if stored is not None and reserved is None:
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
