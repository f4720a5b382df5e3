"""Customer statements: what a customer is sent about their account.

- `open_item_statement(customer, as_of)` — what is open as of a date with its aging strip
  (Current / 1–30 / 31–60 / 61–90 / Over 90). The items and the buckets are the A/R
  aging's own (`selectors.aging.aging_items` / `aging_summary` for this one customer):
  there is no second open-amount computation here.
- `activity_statement(customer, start, end)` — the opening balance (the aging's total for
  the customer as of the day before `start`), every A/R movement dated in the period
  (invoices, credit memos, payments, refunds, deposits applied, voids: the customer's
  lines on the A/R control account, one row per journal entry) with a running balance,
  and the closing balance. `ties` says whether opening + activity = the aging's total as
  of `end` (it does unless the books are broken; `check_ledger` says why).
- Deposits are not A/R until applied, so both statements show them apart, for
  information: what the customer holds on deposit (the Customer Deposits account's lines
  for the customer) and, on the activity statement, its movements in the period.
- `statement_customers(...)` — who "Send statements" goes to: customers with a non-zero
  balance as of the date (the aging summary's rows), optionally narrowed by code/name.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType

from customers.models import Customer
from invoicing.models import Document, DocumentKind, StatementKind
from invoicing.selectors.aging import Buckets, aging_items, aging_summary
from ledger.aggregates import money_sum
from ledger.models import JournalLine, SystemRole
from ledger.money import ZERO

MAX_PERIOD_DAYS = 3660  # an activity statement covers at most about ten years
DEFAULT_BUCKETS = Buckets()


@dataclass
class StatementLine:
    """One row of a statement: an open item (open-item statement) or one A/R movement
    (activity statement: `amount` signed, debit-positive; `balance` after it)."""

    date: datetime.date
    label: str
    number: str
    description: str = ""
    document_id: int | None = None
    due_date: datetime.date | None = None
    days_overdue: int = 0
    bucket_label: str = ""
    amount: Decimal = ZERO
    balance: Decimal = ZERO


@dataclass
class DepositMove:
    date: datetime.date
    description: str
    amount: Decimal  # + received (held more), − applied / refunded / voided
    held: Decimal  # held after it


@dataclass
class Statement:
    """What one statement shows (`kind`: StatementKind)."""

    kind: str
    customer: Customer
    statement_date: datetime.date  # as of, or the period's end
    period_start: datetime.date | None = None
    lines: list[StatementLine] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    buckets: list[Decimal] = field(default_factory=list)
    opening: Decimal = ZERO
    closing: Decimal = ZERO  # opening + activity (activity); the open items' total (open item)
    aging_total: Decimal = ZERO  # the aging's total for the customer on statement_date
    deposits_opening: Decimal = ZERO
    deposits_held: Decimal = ZERO
    deposit_moves: list[DepositMove] = field(default_factory=list)
    charges: Decimal = ZERO  # activity: what the period added (debits)
    credits: Decimal = ZERO  # activity: what it took off (credits, positive)

    @property
    def ties(self) -> bool:
        return self.closing == self.aging_total

    @property
    def title(self) -> str:
        return StatementKind(self.kind).label

    @property
    def is_activity(self) -> bool:
        return self.kind == StatementKind.ACTIVITY

    @property
    def amount_due(self) -> Decimal:
        """What the customer owes on the statement date (negative: we owe them)."""
        return self.closing


def _aging_total(customer_id: int, as_of: datetime.date, buckets: Buckets = DEFAULT_BUCKETS):
    """(buckets, total) of the customer's open items as of `as_of`, from the aging."""
    page = aging_summary(as_of, buckets=buckets, customer_ids=[customer_id], limit=1)
    if not page.rows:
        return [ZERO] * len(buckets.labels), ZERO
    row = page.rows[0]
    return row.buckets, row.total


def _deposits_held(customer_id: int, as_of: datetime.date) -> Decimal:
    """What the customer holds on deposit at the end of `as_of` (credit-positive)."""
    totals = JournalLine.objects.filter(
        account__system_role=SystemRole.DEPOSITS, customer_id=customer_id, entry__date__lte=as_of
    ).aggregate(dr=money_sum("debit"), cr=money_sum("credit"))
    return totals["cr"] - totals["dr"]


def _entries(customer_id: int, role: str, start: datetime.date, end: datetime.date):
    """The customer's lines on the account of `role` dated in [start, end], one row per
    journal entry (debit − credit), oldest first."""
    return (
        JournalLine.objects.filter(
            account__system_role=role,
            customer_id=customer_id,
            entry__date__gte=start,
            entry__date__lte=end,
        )
        .values(
            "entry_id",
            "entry__date",
            "entry__memo",
            "entry__source_ref",
            "entry__source_type_id",
            "entry__source_id",
            "entry__reversal_of_id",
        )
        .annotate(dr=money_sum("debit"), cr=money_sum("credit"))
        .order_by("entry__date", "entry_id")
    )


def open_item_statement(
    customer: Customer, as_of: datetime.date, *, buckets: Buckets = DEFAULT_BUCKETS
) -> Statement:
    """The customer's open items as of `as_of`, oldest first, with the aging strip."""
    labels = buckets.labels
    items = aging_items(as_of, buckets=buckets, customer_ids=[customer.pk], limit=None)
    strip, total = _aging_total(customer.pk, as_of, buckets)
    lines = [
        StatementLine(
            date=item.date,
            label=DocumentKind(item.kind).label,
            number=item.number,
            document_id=item.document_id,
            due_date=item.due_date if item.open_amount > 0 else None,
            days_overdue=item.days_overdue,
            bucket_label=labels[item.bucket],
            amount=item.open_amount,
        )
        for item in items
    ]
    held = _deposits_held(customer.pk, as_of)
    return Statement(
        kind=StatementKind.OPEN_ITEM,
        customer=customer,
        statement_date=as_of,
        lines=lines,
        labels=labels,
        buckets=strip,
        closing=sum((line.amount for line in lines), ZERO),
        aging_total=total,
        deposits_held=held,
        deposits_opening=held,
    )


def _labels_for(rows) -> dict[int, tuple[str, str]]:
    """{entry id: (label, document number)} for A/R rows, from their source documents (one
    query for the documents, one for the content types)."""
    doc_type = ContentType.objects.get_for_model(Document).pk
    ids = {r["entry__source_id"] for r in rows if r["entry__source_type_id"] == doc_type}
    kinds = dict(Document.objects.filter(pk__in=ids).values_list("pk", "kind")) if ids else {}
    labels = {}
    for r in rows:
        source = r["entry__source_id"] if r["entry__source_type_id"] == doc_type else None
        if source in kinds:
            label = DocumentKind(kinds[source]).label
        elif r["entry__source_type_id"] is not None:
            label = "Deposit applied" if r["cr"] > r["dr"] else "Deposit"
        else:
            label = "Entry"
        if r["entry__reversal_of_id"]:
            label = f"Void of {label.lower()}"
        labels[r["entry_id"]] = (label, source if source in kinds else None)
    return labels


def _description(memo: str, number: str, customer) -> str:
    """An entry's memo as a statement line's description: without the customer's name the
    posting adds, and blank when all it says is the document's own title and number."""
    text = (memo or "").removesuffix(f" — {customer.name}").strip()
    if number and text.endswith(number) and len(text.split()) <= 4:
        return ""  # "Invoice INV-000007", "Void of Invoice INV-000007": the columns say it
    return text


def activity_statement(
    customer: Customer,
    start: datetime.date,
    end: datetime.date,
    *,
    buckets: Buckets = DEFAULT_BUCKETS,
) -> Statement:
    """Opening balance as of the day before `start`, every A/R movement of the customer in
    [start, end] with the running balance, the closing balance, and the aging strip as of
    `end`."""
    _strip, opening = _aging_total(customer.pk, start - datetime.timedelta(days=1), buckets)
    strip, total = _aging_total(customer.pk, end, buckets)
    rows = list(_entries(customer.pk, SystemRole.RECEIVABLE, start, end))
    labels = _labels_for(rows)
    balance, lines, charges, credits = opening, [], ZERO, ZERO
    for r in rows:
        amount = r["dr"] - r["cr"]
        if amount == 0:
            continue  # an entry that moved nothing for this customer (e.g. store credit)
        balance += amount
        if amount > 0:
            charges += amount
        else:
            credits -= amount
        label, document_id = labels[r["entry_id"]]
        lines.append(
            StatementLine(
                date=r["entry__date"],
                label=label,
                number=r["entry__source_ref"],
                description=_description(r["entry__memo"], r["entry__source_ref"], customer),
                document_id=document_id,
                amount=amount,
                balance=balance,
            )
        )
    held_before = _deposits_held(customer.pk, start - datetime.timedelta(days=1))
    held, moves = held_before, []
    for r in _entries(customer.pk, SystemRole.DEPOSITS, start, end):
        amount = r["cr"] - r["dr"]
        if amount == 0:
            continue
        held += amount
        moves.append(
            DepositMove(
                date=r["entry__date"], description=r["entry__memo"], amount=amount, held=held
            )
        )
    return Statement(
        kind=StatementKind.ACTIVITY,
        customer=customer,
        statement_date=end,
        period_start=start,
        lines=lines,
        labels=buckets.labels,
        buckets=strip,
        opening=opening,
        closing=balance,
        aging_total=total,
        charges=charges,
        credits=credits,
        deposits_opening=held_before,
        deposits_held=held,
        deposit_moves=moves,
    )


def statement_for(customer, kind: str, statement_date, period_start=None) -> Statement:
    if kind == StatementKind.ACTIVITY:
        return activity_statement(customer, period_start, statement_date)
    return open_item_statement(customer, statement_date)


def statement_customers(as_of: datetime.date, *, customer_search: str = "") -> list[Customer]:
    """Customers with a non-zero balance as of `as_of` (by code), narrowed to those whose
    code is `customer_search` or whose name contains it."""
    page = aging_summary(as_of, customer_search=customer_search, limit=None)
    ids = [row.customer_id for row in page.rows if row.total != 0]
    by_id = Customer.objects.in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]
