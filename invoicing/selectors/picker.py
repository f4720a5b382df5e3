"""Reads of the allocation picker (Apply Credit, Record Payment): the customer's open items
matching a search, and the few of them "Apply oldest first" gives something to.

Both work on the ordered queryset of `open_invoices` / `open_credits` and cost one query
however many open items the customer has: the screen shows a page of them, never all.
"""

import datetime
from decimal import Decimal

from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, When, Window
from django.db.models.expressions import OrderBy

from invoicing.models import Document
from ledger.money import NotPlainNumber, parse_plain_decimal

DATE_FORMATS = ("%m/%d/%Y", "%m/%d/%y", "%Y-%m-%d", "%m-%d-%Y")
MONEY = DecimalField(max_digits=14, decimal_places=2)
# "Apply oldest first" reads this many open items first; most credits end within them.
FILL_CHUNK = 100


def _as_amount(text: str) -> Decimal | None:
    try:
        amount = parse_plain_decimal(text)
    except NotPlainNumber:
        return None
    return abs(amount) if amount.as_tuple().exponent >= -2 else None


def _as_date(text: str) -> datetime.date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def open_items_matching(items: QuerySet[Document], text: str) -> QuerySet[Document]:
    """The open items whose number contains `text`, or whose open amount or grand total is
    the amount typed ("300", "1,234.50", either sign), or whose date or due date is the
    date typed (11/05/2026 or 2026-11-05). Blank text: all of them."""
    text = (text or "").strip()
    if not text:
        return items
    found = Q(number__icontains=text)
    amount = _as_amount(text)
    if amount is not None:
        found |= Q(balance_due__in=[amount, -amount]) | Q(grand_total__in=[amount, -amount])
    date = _as_date(text)
    if date is not None:
        found |= Q(date=date) | Q(due_date=date)
    return items.filter(found)


def _usable_expr():
    """`Document.usable` in SQL: an invoice's open amount, a credit's less what is reserved."""
    return Case(
        When(balance_due__gt=0, then=F("balance_due")),
        default=-F("balance_due") - F("reserved"),
        output_field=MONEY,
    )


def _ordering(items: QuerySet) -> list[OrderBy]:
    order = []
    for name in items.query.order_by:
        descending = name.startswith("-")
        field = F(name.lstrip("-"))
        order.append(field.desc() if descending else field.asc())
    return order


def open_items_page(items: QuerySet[Document], text: str, *, page: int, size: int):
    """(page number, its open items matching `text`, how many match), the page number
    kept within the pages there are. A search costs one query (its count rides along as a
    window over the few that match); the whole list two (a count, and a LIMIT the index
    on due dates answers at once)."""
    matching = open_items_matching(items, text)

    def rows(number, queryset=matching):
        start = (number - 1) * size
        return queryset[start : start + size]

    if (text or "").strip():
        found = list(rows(page, matching.annotate(match_count=Window(Count("pk")))))
        if found or page == 1:
            return page, found, (found[0].match_count if found else 0)
        count = matching.count()  # past the last page of what matches
    else:
        count = matching.count()
    page = min(page, max(1, -(-count // size)))
    return page, (list(rows(page)) if count else []), count


def open_items_to_fill(items: QuerySet[Document], available: Decimal) -> list[Document]:
    """The open items, in the queryset's order (oldest due first), that "Apply oldest first"
    gives something to out of `available`. Usually the first few cover it: one LIMIT
    query; when they don't, one more with a running total picks exactly the ones whose
    predecessors leave something — never every open item read into Python."""
    if available <= 0:
        return []
    first = list(items[:FILL_CHUNK])
    if len(first) < FILL_CHUNK or sum(max(d.usable, 0) for d in first) >= available:
        return first
    usable = _usable_expr()
    return list(
        items.annotate(
            fill_usable=usable,
            fill_before=Window(Sum(usable), order_by=_ordering(items)) - usable,
        ).filter(fill_usable__gt=0, fill_before__lt=available)
    )
