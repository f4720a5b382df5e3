"""The home dashboard's figures: what is owed and held today, the queues' counts, and
A/R at each of the last 12 month-ends split into current and overdue."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q

from invoicing.models import Deposit, DepositRefund, Document, DocumentKind, DocumentStatus
from invoicing.selectors.aging import receivable_split
from ledger.aggregates import money_sum
from ledger.models import AuditEvent, JournalEntry

POSTED = DocumentStatus.POSTED
DRAFT = DocumentStatus.DRAFT


@dataclass
class Figures:
    receivable: Decimal  # the open items' total (what customers owe less their credits)
    overdue: Decimal  # invoices' open amounts past their due date
    overdue_count: int
    credits: Decimal  # open credits (negative), shown as a positive amount
    credits_count: int
    deposits_held: Decimal
    drafts: int  # drafts awaiting posting: invoices, credit memos, payments, deposits
    pending_refunds: int  # refunds and deposit refunds prepared, not released


def figures(today: datetime.date) -> Figures:
    """Today's figures, in three queries."""
    owed = Q(status=POSTED, balance_due__gt=0)
    credit = Q(status=POSTED, balance_due__lt=0)
    docs = Document.objects.aggregate(
        receivable=money_sum("balance_due", filter=Q(status=POSTED)),
        overdue=money_sum("balance_due", filter=owed & Q(due_date__lt=today)),
        overdue_count=Count("id", filter=owed & Q(due_date__lt=today)),
        credits=money_sum("balance_due", filter=credit),
        credits_count=Count("id", filter=credit),
        drafts=Count("id", filter=Q(status=DRAFT) & ~Q(kind=DocumentKind.REFUND)),
        refunds=Count("id", filter=Q(status=DRAFT, kind=DocumentKind.REFUND)),
    )
    deposits = Deposit.objects.aggregate(
        held=money_sum("remaining", filter=Q(status=POSTED)),
        drafts=Count("id", filter=Q(status=DRAFT)),
    )
    deposit_refunds = DepositRefund.objects.filter(status=DRAFT).count()
    return Figures(
        receivable=docs["receivable"],
        overdue=docs["overdue"],
        overdue_count=docs["overdue_count"],
        credits=-docs["credits"],
        credits_count=docs["credits_count"],
        deposits_held=deposits["held"],
        drafts=docs["drafts"] + deposits["drafts"],
        pending_refunds=docs["refunds"] + deposit_refunds,
    )


@dataclass
class TrendPoint:
    month_end: datetime.date
    current: Decimal  # the rest: not yet due, less the open credits
    overdue: Decimal  # owed past the due date

    @property
    def total(self) -> Decimal:
        return self.current + self.overdue


def month_ends(today: datetime.date, months: int = 12) -> list[datetime.date]:
    """The last day of each of the `months` months up to today's (today for this one)."""
    ends, first = [today], today.replace(day=1)
    for _ in range(months - 1):
        last = first - datetime.timedelta(days=1)
        ends.append(last)
        first = last.replace(day=1)
    return list(reversed(ends))


def books_version() -> tuple:
    """Changes whenever anything that moves A/R is recorded (every service writes an audit
    event, every posting a journal entry): one query of two index look-ups."""
    events, entries = AuditEvent._meta.db_table, JournalEntry._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT MAX(id) FROM {events}), (SELECT MAX(id) FROM {entries})"  # noqa: S608
        )
        return tuple(cursor.fetchone())


def trend(today: datetime.date, months: int = 12) -> list[TrendPoint]:
    """A/R at each month-end (today for this month), current and overdue, from the aging
    as of that date. Each point is cached under the books' version, so it is recomputed
    only after something changed (exact, never stale)."""
    version = books_version()
    points = []
    for end in month_ends(today, months):
        key = f"dashboard-trend-{end.isoformat()}-{version[0]}-{version[1]}"
        point = cache.get(key)
        if point is None:
            total, overdue = receivable_split(end)
            point = TrendPoint(month_end=end, current=total - overdue, overdue=overdue)
            cache.set(key, point, 24 * 3600)
        points.append(point)
    return points
