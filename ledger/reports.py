"""The general ledger read for the desk: the trial balance as of a date and one account's
ledger (its journal lines in a period, with the opening balance and a running balance),
each a fixed number of queries however many lines there are."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, F, Q, Sum, Window

from ledger.aggregates import MONEY_SUM_FIELD, as_money, money_sum
from ledger.models import Account, JournalLine
from ledger.money import ZERO


@dataclass
class TrialBalanceRow:
    account: Account
    debit: Decimal  # the balance when it is a debit, else 0
    credit: Decimal  # the balance when it is a credit, else 0

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit


@dataclass
class TrialBalance:
    as_of: datetime.date
    rows: list[TrialBalanceRow]

    @property
    def debits(self) -> Decimal:
        return sum((r.debit for r in self.rows), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((r.credit for r in self.rows), ZERO)

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


def trial_balance(as_of: datetime.date) -> TrialBalance:
    """Every account with a balance or activity on or before `as_of`, by code: its
    balance in the debit or the credit column. One query."""
    totals = (
        Account.objects.annotate(
            dr=money_sum("lines__debit", filter=Q(lines__entry__date__lte=as_of)),
            cr=money_sum("lines__credit", filter=Q(lines__entry__date__lte=as_of)),
        )
        .filter(Q(dr__gt=0) | Q(cr__gt=0))
        .order_by("code")
    )
    rows = []
    for account in totals:
        balance = account.dr - account.cr
        rows.append(
            TrialBalanceRow(account=account, debit=max(balance, ZERO), credit=max(-balance, ZERO))
        )
    return TrialBalance(as_of=as_of, rows=rows)


@dataclass
class LedgerLine:
    line: JournalLine
    balance: Decimal  # the account's balance after this line (debit-positive)
    source_url: str | None


def _source_urls(lines: list[JournalLine]) -> dict[int, str | None]:
    """{line id: URL of the document its entry came from}, without loading the documents
    (their pages are addressed by id)."""
    urls = {}
    for line in lines:
        entry = line.entry
        url = None
        if entry.source_type_id and entry.source_id:
            model = ContentType.objects.get_for_id(entry.source_type_id).model_class()
            if model is not None and hasattr(model, "get_absolute_url"):
                url = model(pk=entry.source_id).get_absolute_url()
        urls[line.pk] = url
    return urls


def opening_balance(account: Account, before: datetime.date) -> Decimal:
    totals = JournalLine.objects.filter(account=account, entry__date__lt=before).aggregate(
        dr=money_sum("debit"), cr=money_sum("credit")
    )
    return totals["dr"] - totals["cr"]


def account_ledger(
    account: Account,
    *,
    date_from: datetime.date,
    date_to: datetime.date,
    offset: int = 0,
    limit: int = 100,
) -> tuple[Decimal, list[LedgerLine], int, Decimal]:
    """(opening balance, a page of the account's lines dated date_from..date_to with the
    running balance after each, how many lines the period has, closing balance)."""
    opening = opening_balance(account, date_from)
    period = JournalLine.objects.filter(
        account=account, entry__date__gte=date_from, entry__date__lte=date_to
    )
    order = [F("entry__date").asc(), F("entry_id").asc(), F("id").asc()]
    running = Window(Sum(F("debit") - F("credit"), output_field=MONEY_SUM_FIELD), order_by=order)
    page = list(
        period.select_related("entry", "customer")
        .annotate(running=as_money(running))
        .order_by(*order)[offset : offset + limit]
    )
    summary = period.aggregate(dr=money_sum("debit"), cr=money_sum("credit"), n=Count("id"))
    count = summary["n"]
    urls = _source_urls(page)
    lines = [
        LedgerLine(line=ln, balance=opening + ln.running, source_url=urls[ln.pk]) for ln in page
    ]
    return opening, lines, count, opening + summary["dr"] - summary["cr"]
