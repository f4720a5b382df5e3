"""Reads of the general ledger: accounts, balances, entries."""

import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from ledger.models import JournalEntry, JournalLine
from ledger.money import ZERO

_MONEY = DecimalField(max_digits=16, decimal_places=2)


def _lines(as_of: datetime.date | None):
    lines = JournalLine.objects.all()
    if as_of is not None:
        lines = lines.filter(entry__date__lte=as_of)
    return lines


def account_balance(code: str, *, as_of: datetime.date | None = None) -> Decimal:
    """Debit-positive balance of one account."""
    totals = (
        _lines(as_of)
        .filter(account__code=code)
        .aggregate(
            dr=Coalesce(Sum("debit"), Value(ZERO), output_field=_MONEY),
            cr=Coalesce(Sum("credit"), Value(ZERO), output_field=_MONEY),
        )
    )
    return totals["dr"] - totals["cr"]


def account_balances_by_customer(code: str, *, as_of=None) -> dict[int | None, Decimal]:
    rows = (
        _lines(as_of)
        .filter(account__code=code)
        .values("customer_id")
        .annotate(dr=Sum("debit"), cr=Sum("credit"))
    )
    return {r["customer_id"]: (r["dr"] or ZERO) - (r["cr"] or ZERO) for r in rows}


def trial_balance(*, as_of=None) -> list[dict]:
    """One row per account with activity: code, name, debit total, credit total."""
    rows = (
        _lines(as_of)
        .values("account__code", "account__name")
        .annotate(dr=Sum("debit"), cr=Sum("credit"))
        .order_by("account__code")
    )
    return [
        {
            "code": r["account__code"],
            "name": r["account__name"],
            "debit": r["dr"] or ZERO,
            "credit": r["cr"] or ZERO,
        }
        for r in rows
    ]


def unbalanced_entries() -> list[tuple[int, Decimal, Decimal]]:
    rows = (
        JournalLine.objects.values("entry_id")
        .annotate(dr=Sum("debit"), cr=Sum("credit"))
        .filter(~Q(dr=F("cr")))
    )
    return [(r["entry_id"], r["dr"], r["cr"]) for r in rows]


def entries_for_source(source) -> list[JournalEntry]:
    return list(
        JournalEntry.objects.filter(
            source_type=ContentType.objects.get_for_model(source), source_id=source.pk
        )
        .prefetch_related("lines__account")
        .order_by("id")
    )
