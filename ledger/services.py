"""Writes to the general ledger. Every entry is balanced, dated in an open period, and
written once; corrections are reversing entries."""

import datetime
import json
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from ledger.exceptions import PeriodClosed, UnbalancedEntry
from ledger.models import (
    Account,
    AuditAction,
    AuditEvent,
    JournalEntry,
    JournalLine,
    LedgerSettings,
)
from ledger.money import ZERO, format_money, round_money


@dataclass(frozen=True)
class Leg:
    """One side of an entry: a positive debit or a positive credit."""

    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    customer_id: int | None = None
    memo: str = ""


def build_legs(rows, *, memo: str = "", merge: bool = True) -> list[Leg]:
    """The one way the services make an entry's legs. `rows` are (account, customer_id,
    signed amount) — debit positive — or (account, customer_id, signed amount, memo);
    a row without a memo takes `memo`. Rows with the same account, customer and memo are
    added up (unless `merge` is False: a reversal mirrors its entry line by line), zeros
    are dropped, and each total becomes a debit or a credit leg, so callers never care
    about sides."""
    totals: dict = {}
    for position, (account, customer_id, amount, *line_memo) in enumerate(rows):
        line_memo = line_memo[0] if line_memo else memo
        key = (account, customer_id, line_memo) if merge else position
        previous = totals.get(key, (account, customer_id, line_memo, ZERO))
        totals[key] = (account, customer_id, line_memo, previous[3] + amount)
    legs = []
    for account, customer_id, line_memo, amount in totals.values():
        amount = round_money(amount)
        side = {"debit": amount} if amount > 0 else {"credit": -amount}
        if amount:
            legs.append(Leg(account=account, customer_id=customer_id, memo=line_memo, **side))
    return legs


def reversal_legs(entry: JournalEntry) -> list[Leg]:
    """The exact reverse of `entry`, line by line (each debit a credit and back)."""
    return build_legs(
        (
            (line.account, line.customer_id, line.credit - line.debit, line.memo)
            for line in entry.lines.select_related("account")
        ),
        merge=False,
    )


def _closed_message(closed: datetime.date, date: datetime.date) -> str:
    return (
        f"The books are closed through {closed:%m/%d/%Y}; "
        f"choose a date after it (got {date:%m/%d/%Y})."
    )


@dataclass(frozen=True)
class PostingState:
    """What a posting reads once from the ledger's settings: the books-closed date, and a
    fingerprint of the system-role accounts (ids, roles, codes, names, active) that
    validates the per-process account cache (`ledger.selectors.system_accounts`)."""

    closed: datetime.date | None
    accounts: str | None = None


def posting_state() -> PostingState:
    """Read the books-closed date for a posting. Inside a transaction on PostgreSQL it is
    read under a share lock on the settings row, held until the caller commits: a close
    (books_close locks the row for update) waits for the postings in flight, and a
    posting that waited for a close sees the new date, so nothing committed after a close
    is dated in the closed period. (SQLite's IMMEDIATE transactions already serialize
    writers.) The same statement reads the system accounts' fingerprint."""
    from ledger.selectors import SYSTEM_ACCOUNTS_FINGERPRINT

    fingerprint = SYSTEM_ACCOUNTS_FINGERPRINT.get(connection.vendor)
    if fingerprint is None:
        return PostingState(closed=LedgerSettings.load().books_closed_through)
    lock = " FOR SHARE" if connection.vendor == "postgresql" and connection.in_atomic_block else ""
    sql = (
        f"SELECT books_closed_through, ({fingerprint}) "  # noqa: S608 - our tables
        f"FROM {LedgerSettings._meta.db_table} WHERE id = 1{lock}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
        if row is None:  # no settings row yet (a flushed database): make it, read again
            LedgerSettings.load()
            cursor.execute(sql)
            row = cursor.fetchone()
    closed = row[0]
    if isinstance(closed, str):  # SQLite returns the raw column from a raw query
        closed = datetime.date.fromisoformat(closed)
    return PostingState(closed=closed, accounts=row[1])


def ensure_period_open(date: datetime.date, state: PostingState | None = None) -> None:
    """Refuse a date on or before the books-closed date (read by `posting_state` unless
    the caller passes the state it read)."""
    closed = (state or posting_state()).closed
    if closed and date <= closed:
        raise PeriodClosed(_closed_message(closed, date), code="period_closed")


def business_date_range() -> tuple[datetime.date, datetime.date]:
    """(earliest, latest) business date allowed today: the day after the books-closed date
    (while the books are open, settings.BUSINESS_DATE_EARLIEST), and today +
    settings.BUSINESS_DATE_HORIZON_DAYS."""
    return _date_range(LedgerSettings.load().books_closed_through)


def _date_range(closed: datetime.date | None) -> tuple[datetime.date, datetime.date]:
    earliest = settings.BUSINESS_DATE_EARLIEST
    if closed is not None and closed < datetime.date.max:
        earliest = max(earliest, closed + datetime.timedelta(days=1))
    today = timezone.localdate()
    try:
        latest = today + datetime.timedelta(days=settings.BUSINESS_DATE_HORIZON_DAYS)
    except OverflowError:
        latest = datetime.date.max
    return earliest, latest


_READ = object()  # `closed` not given: read the settings row


def business_date_error(
    date: datetime.date, *, what: str = "The date", closed=_READ
) -> ValidationError | None:
    """Why `date` is outside the business-date range (ledger/ACCOUNTING.md "Business dates"), as a
    ValidationError without a field (PeriodClosed for the closed side), or None if it's in.
    `closed` is the books-closed date when the caller already read it (in a locking
    statement, `ledger.selectors.books_closed_through()`), saving the read."""
    if isinstance(date, datetime.datetime):
        date = date.date()
    if closed is _READ:
        closed = LedgerSettings.load().books_closed_through
    if closed and date <= closed:
        return PeriodClosed(_closed_message(closed, date), code="period_closed")
    earliest, latest = _date_range(closed)
    if date < earliest:
        return ValidationError(
            f"{what} can't be before {earliest:%m/%d/%Y}.", code="date_too_early"
        )
    if date > latest:
        return ValidationError(
            f"{what} can't be later than {latest:%m/%d/%Y} "
            f"({settings.BUSINESS_DATE_HORIZON_DAYS} days from today).",
            code="date_too_late",
        )
    return None


def check_business_date(
    date: datetime.date | None, *, field: str = "date", what: str = "The date", closed=_READ
) -> datetime.date | None:
    """Refuse a date outside the business-date range with ValidationError({field: message})
    (a PeriodClosed on or before the books-closed date). None (the service's "today"
    default) passes through. Every service that dates something calls it; `closed` as in
    `business_date_error`."""
    if date is None:
        return None
    error = business_date_error(date, what=what, closed=closed)
    if error is not None:
        raise type(error)({field: error})
    return date


def _fit(model, field: str, text: str) -> str:
    """`text` cut to the column's length: labels built from customer-entered names (a
    journal entry's memo, an audit event's reference) must never overflow it."""
    limit = model._meta.get_field(field).max_length
    return text if len(text) <= limit else text[: limit - 1] + "…"


def audit_event(
    *, by, action: AuditAction, target=None, target_ref: str = "", amount=None, **detail
) -> AuditEvent:
    """One audit event, not yet saved (`audit_write` saves several in one INSERT).
    `action` must be an AuditAction member: the trail's actions are an enumeration, not
    free text."""
    if not isinstance(action, AuditAction):
        raise TypeError(f"audit_log needs an AuditAction, not {action!r}.")
    return AuditEvent(
        actor=by if (by is not None and by.is_authenticated) else None,
        action=action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=getattr(target, "pk", None),
        target_ref=_fit(AuditEvent, "target_ref", target_ref or (str(target) if target else "")),
        amount=amount,
        detail=detail,
    )


def audit_log(*, by, action: AuditAction, target=None, target_ref: str = "", amount=None, **detail):
    """Write one audit event (see `audit_event`)."""
    event = audit_event(
        by=by, action=action, target=target, target_ref=target_ref, amount=amount, **detail
    )
    event.save()
    return event


@dataclass(frozen=True)
class AuditRow:
    """An audit event as plain values, for writing many at once (`audit_write`) without a
    model instance each: what `audit_event` fills in, by id."""

    actor_id: int | None
    action: AuditAction
    target_type_id: int | None
    target_id: int | None
    target_ref: str
    amount: Decimal | None
    detail: dict


def audit_row_for(*, by, action: AuditAction, target, target_ref: str, amount, **detail):
    """`audit_event` as an AuditRow (the same checks and the same reference cut)."""
    if not isinstance(action, AuditAction):
        raise TypeError(f"audit_log needs an AuditAction, not {action!r}.")
    return AuditRow(
        actor_id=by.pk if (by is not None and by.is_authenticated) else None,
        action=action,
        target_type_id=ContentType.objects.get_for_model(target).pk,
        target_id=target.pk,
        target_ref=_fit(AuditEvent, "target_ref", target_ref or str(target)),
        amount=amount,
        detail=detail,
    )


def audit_write(events: list) -> None:
    """Save audit events (AuditEvent instances or AuditRows) in one INSERT: on PostgreSQL
    from unnest(…), elsewhere bulk_create."""
    if not events:
        return
    rows = [
        e
        if isinstance(e, AuditRow)
        else AuditRow(
            e.actor_id, e.action, e.target_type_id, e.target_id, e.target_ref, e.amount, e.detail
        )
        for e in events
    ]
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor_id=r.actor_id,
                action=r.action,
                target_type_id=r.target_type_id,
                target_id=r.target_id,
                target_ref=r.target_ref,
                amount=r.amount,
                detail=r.detail,
            )
            for r in rows
        )
        return
    encoder = AuditEvent._meta.get_field("detail").encoder
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AuditEvent._meta.db_table} "  # noqa: S608 - our table
            "(at, actor_id, action, target_type_id, target_id, target_ref, amount, detail) "
            "SELECT %s, * FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[], "
            "%s::text[], %s::numeric[], %s::jsonb[])",
            [
                timezone.now(),
                [r.actor_id for r in rows],
                [str(r.action) for r in rows],
                [r.target_type_id for r in rows],
                [r.target_id for r in rows],
                [r.target_ref for r in rows],
                [r.amount for r in rows],
                [json.dumps(r.detail, cls=encoder) for r in rows],
            ],
        )


def journal_entry_post(
    *,
    date: datetime.date,
    memo: str,
    legs: list[Leg],
    by,
    source=None,
    source_ref: str = "",
    reversal_of: JournalEntry | None = None,
    state: PostingState | None = None,
    audit_into: list | None = None,
) -> JournalEntry:
    """Write one balanced entry dated `date` in an open period. Inside the caller's
    transaction it adds no savepoint (every check comes before the first write); alone it
    opens its own. `state` is the caller's `posting_state()` (read once per transaction);
    with `audit_into` the entry's audit event is appended there for the caller to write
    with its own (`audit_write`), not saved here."""
    kwargs = locals()
    if connection.in_atomic_block:
        return _journal_entry_post(**kwargs)
    with transaction.atomic():
        return _journal_entry_post(**kwargs)


def _check_legs(legs: list[Leg]) -> Decimal:
    """The entry's total; UnbalancedEntry unless each leg is one positive side and the
    debits equal the credits."""
    debits = sum((leg.debit for leg in legs), ZERO)
    credits = sum((leg.credit for leg in legs), ZERO)
    for leg in legs:
        if (leg.debit > 0) == (leg.credit > 0) or leg.debit < 0 or leg.credit < 0:
            raise UnbalancedEntry(f"Each line needs a positive debit or credit, not both ({leg}).")
    if debits != credits:
        raise UnbalancedEntry(
            f"Debits {format_money(debits)} don't equal credits {format_money(credits)}."
        )
    return debits


def _journal_entry_post(
    *, date, memo, legs, by, source, source_ref, reversal_of, state, audit_into
) -> JournalEntry:
    state = state or posting_state()
    ensure_period_open(date, state)
    check_business_date(date, what="The entry's date", closed=state.closed)
    debits = _check_legs(legs)
    fields = _entry_fields(date, memo, by, source, source_ref)
    entry = JournalEntry.objects.create(reversal_of=reversal_of, **fields)
    JournalLine.objects.bulk_create(_entry_lines(entry, legs))
    event = audit_event(
        by=by, action=AuditAction.JOURNAL_ENTRY_POSTED, target=entry, amount=debits, memo=memo
    )
    if audit_into is None:
        event.save()
    else:
        audit_into.append(event)
    return entry


def _entry_fields(date, memo, by, source, source_ref) -> dict:
    return {
        "date": date,
        "memo": _fit(JournalEntry, "memo", memo),
        "source_type": ContentType.objects.get_for_model(source) if source is not None else None,
        "source_id": getattr(source, "pk", None),
        "source_ref": source_ref,
        "posted_by": by,
        "posted_at": timezone.now(),
    }


def _entry_lines(entry: JournalEntry, legs: list[Leg]) -> list[JournalLine]:
    return [
        JournalLine(
            entry=entry,
            account_id=leg.account.pk,
            customer_id=leg.customer_id,
            debit=leg.debit,
            credit=leg.credit,
            memo=_fit(JournalLine, "memo", leg.memo),
        )
        for leg in legs
    ]


def _insert_lines(rows) -> None:
    """Journal lines (entry id, account id, customer id, debit, credit, memo) in one
    INSERT: on PostgreSQL from unnest(…) without a model instance per line."""
    if connection.vendor != "postgresql":
        JournalLine.objects.bulk_create(
            JournalLine(
                entry_id=entry,
                account_id=account,
                customer_id=customer,
                debit=debit,
                credit=credit,
                memo=_fit(JournalLine, "memo", memo),
            )
            for entry, account, customer, debit, credit, memo in rows
        )
        return
    limit = JournalLine._meta.get_field("memo").max_length
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[]] * 6
    columns[5] = [m if len(m) <= limit else m[: limit - 1] + "…" for m in columns[5]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {JournalLine._meta.db_table} "  # noqa: S608 - our table
            "(entry_id, account_id, customer_id, debit, credit, memo) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], "
            "%s::numeric[], %s::text[])",
            columns,
        )


def journal_entries_post_many(
    *, entries: list[dict], by, state: PostingState, audit_into: list
) -> list[JournalEntry]:
    """Write many balanced entries in two INSERTs (entries, lines), their audit events
    appended to `audit_into` for the caller's one INSERT, in the caller's transaction,
    dates checked against `state` (read once). Each item of `entries` has date, memo,
    legs, source and source_ref; returns the entries in order."""
    totals = []
    for spec in entries:
        ensure_period_open(spec["date"], state)
        check_business_date(spec["date"], what="The entry's date", closed=state.closed)
        totals.append(_check_legs(spec["legs"]))
    made = JournalEntry.objects.bulk_create(
        JournalEntry(
            **_entry_fields(
                spec["date"], spec["memo"], by, spec.get("source"), spec.get("source_ref", "")
            )
        )
        for spec in entries
    )
    _insert_lines(
        [
            (entry.pk, leg.account.pk, leg.customer_id, leg.debit, leg.credit, leg.memo)
            for entry, spec in zip(made, entries, strict=True)
            for leg in spec["legs"]
        ]
    )
    audit_into.extend(
        audit_row_for(
            by=by,
            action=AuditAction.JOURNAL_ENTRY_POSTED,
            target=entry,
            target_ref="",
            amount=total,
            memo=spec["memo"],
        )
        for entry, spec, total in zip(made, entries, totals, strict=True)
    )
    return made


@transaction.atomic
def journal_entry_reverse(
    *, entry: JournalEntry, date: datetime.date, by, memo: str = ""
) -> JournalEntry:
    """Write the exact reverse of `entry` as a new entry dated `date`."""
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    if JournalEntry.objects.filter(reversal_of=entry).exists():
        raise UnbalancedEntry(f"{entry.number} has already been reversed.")
    reversal = journal_entry_post(
        date=date,
        memo=memo or f"Reversal of {entry.number}: {entry.memo}",
        legs=reversal_legs(entry),
        by=by,
        source=entry.source_type.get_object_for_this_type(pk=entry.source_id)
        if entry.source_type_id
        else None,
        source_ref=entry.source_ref,
        reversal_of=entry,
    )
    return reversal


@transaction.atomic
def books_close(*, through: datetime.date | None, by) -> LedgerSettings:
    """Move the books-closed date to `through` (None reopens the books), under the settings
    row's lock, and write an audit event naming who moved it, from what, to what. Nothing
    is audited when the date doesn't change."""
    if not (by is not None and by.is_authenticated and by.has_perm("ledger.change_ledgersettings")):
        raise PermissionDenied("You don't have permission to change the books-closed date.")
    LedgerSettings.load()  # the row exists from here on
    row = LedgerSettings.objects.select_for_update().get(pk=1)
    old = row.books_closed_through
    if old == through:
        return row
    row.books_closed_through = through
    row.save()
    audit_log(
        by=by,
        action=AuditAction.BOOKS_CLOSED,
        target=row,
        target_ref="books-closed date",
        old=old.isoformat() if old else None,
        new=through.isoformat() if through else None,
    )
    return row
