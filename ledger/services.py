"""Writes to the general ledger. Every entry is balanced, dated in an open period, and
written once; corrections are reversing entries."""

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from ledger.exceptions import PeriodClosed, UnbalancedEntry
from ledger.models import Account, AuditEvent, JournalEntry, JournalLine, LedgerSettings
from ledger.money import ZERO, format_money, round_money


@dataclass(frozen=True)
class Leg:
    """One side of an entry: a positive debit or a positive credit."""

    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    customer_id: int | None = None
    memo: str = ""


def legs_from_signed(amounts: dict, *, memo: str = "") -> list[Leg]:
    """Turn {(account, customer_id): signed amount} (debit positive) into legs, one per
    key, dropping zeros. Lets posting code add up lines without caring about sides."""
    legs = []
    for (account, customer_id), amount in amounts.items():
        amount = round_money(amount)
        if amount > 0:
            legs.append(Leg(account=account, debit=amount, customer_id=customer_id, memo=memo))
        elif amount < 0:
            legs.append(Leg(account=account, credit=-amount, customer_id=customer_id, memo=memo))
    return legs


def signed_accumulator() -> defaultdict:
    return defaultdict(lambda: ZERO)


def ensure_period_open(date: datetime.date) -> None:
    closed = LedgerSettings.load().books_closed_through
    if closed and date <= closed:
        raise PeriodClosed(
            f"The books are closed through {closed:%m/%d/%Y}; "
            f"choose a date after it (got {date:%m/%d/%Y}).",
            code="period_closed",
        )


def audit_log(*, by, action: str, target=None, target_ref: str = "", amount=None, **detail):
    return AuditEvent.objects.create(
        actor=by if (by is not None and by.is_authenticated) else None,
        action=action,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=getattr(target, "pk", None),
        target_ref=target_ref or (str(target) if target is not None else ""),
        amount=amount,
        detail=detail,
    )


@transaction.atomic
def journal_entry_post(
    *,
    date: datetime.date,
    memo: str,
    legs: list[Leg],
    by,
    source=None,
    source_ref: str = "",
    reversal_of: JournalEntry | None = None,
) -> JournalEntry:
    ensure_period_open(date)
    debits = sum((leg.debit for leg in legs), ZERO)
    credits = sum((leg.credit for leg in legs), ZERO)
    for leg in legs:
        if (leg.debit > 0) == (leg.credit > 0) or leg.debit < 0 or leg.credit < 0:
            raise UnbalancedEntry(f"Each line needs a positive debit or credit, not both ({leg}).")
    if debits != credits:
        raise UnbalancedEntry(
            f"Debits {format_money(debits)} don't equal credits {format_money(credits)}."
        )
    entry = JournalEntry.objects.create(
        date=date,
        memo=memo[:255],
        source_type=ContentType.objects.get_for_model(source) if source is not None else None,
        source_id=getattr(source, "pk", None),
        source_ref=source_ref,
        reversal_of=reversal_of,
        posted_by=by,
        posted_at=timezone.now(),
    )
    JournalLine.objects.bulk_create(
        JournalLine(
            entry=entry,
            account=leg.account,
            customer_id=leg.customer_id,
            debit=leg.debit,
            credit=leg.credit,
            memo=leg.memo[:255],
        )
        for leg in legs
    )
    audit_log(by=by, action="journal entry posted", target=entry, amount=debits, memo=memo)
    return entry


@transaction.atomic
def journal_entry_reverse(
    *, entry: JournalEntry, date: datetime.date, by, memo: str = ""
) -> JournalEntry:
    """Write the exact reverse of `entry` as a new entry dated `date`."""
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    if JournalEntry.objects.filter(reversal_of=entry).exists():
        raise UnbalancedEntry(f"{entry.number} has already been reversed.")
    legs = [
        Leg(
            account=line.account,
            debit=line.credit,
            credit=line.debit,
            customer_id=line.customer_id,
            memo=line.memo,
        )
        for line in entry.lines.select_related("account")
    ]
    reversal = journal_entry_post(
        date=date,
        memo=memo or f"Reversal of {entry.number}: {entry.memo}",
        legs=legs,
        by=by,
        source=entry.source_type.get_object_for_this_type(pk=entry.source_id)
        if entry.source_type_id
        else None,
        source_ref=entry.source_ref,
        reversal_of=entry,
    )
    return reversal
