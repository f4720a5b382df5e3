"""Reads of A/R documents: listings, open items, customer balances."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from invoicing.models import Document, DocumentKind, DocumentLine, DocumentStatus, Item, TaxProfile
from ledger.money import ZERO

_MONEY = DecimalField(max_digits=16, decimal_places=2)
CREDIT_Q = Q(kind=DocumentKind.CREDIT_MEMO) | Q(grand_total__lt=0)


def document_list() -> QuerySet[Document]:
    return Document.objects.select_related("customer")


def document_get(pk: int) -> Document:
    return Document.objects.select_related(
        "customer",
        "source_invoice",
        "posted_by",
        "voided_by",
        "created_by",
        "updated_by",
        "posting_entry",
        "void_entry",
    ).get(pk=pk)


def document_lines(document: Document):
    return document.lines.select_related("item", "tax_profile")


def posted_documents() -> QuerySet[Document]:
    return Document.objects.filter(status=DocumentStatus.POSTED)


def customer_documents(customer) -> QuerySet[Document]:
    return document_list().filter(customer=customer).order_by("-date", "-id")


def customer_ar_balance(customer) -> Decimal:
    """Sum of the open amounts of the customer's posted documents; negative when we owe them."""
    return (
        posted_documents()
        .filter(customer=customer)
        .aggregate(total=Coalesce(Sum("balance_due"), Value(ZERO), output_field=_MONEY))["total"]
    )


def ar_balance_subquery():
    """For annotating customers: `.annotate(ar_balance=ar_balance_subquery())`."""
    per_customer = (
        posted_documents()
        .filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(total=Sum("balance_due"))
        .values("total")
    )
    return Coalesce(Subquery(per_customer, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


def open_balances_by_customer() -> dict[int, Decimal]:
    rows = posted_documents().values("customer_id").annotate(total=Sum("balance_due"))
    return {r["customer_id"]: r["total"] or ZERO for r in rows}


def open_amount_as_of(document: Document, as_of: datetime.date) -> Decimal:
    """The document's open amount at the end of `as_of`.

    Until applications exist (later issues), a posted document is open for its full
    total from its date until it is voided.
    """
    if document.status == DocumentStatus.DRAFT or document.date > as_of:
        return ZERO
    if document.status == DocumentStatus.VOID:
        if document.posting_entry_id is None or (
            document.void_date and document.void_date <= as_of
        ):
            return ZERO
        return document.grand_total
    return document.balance_due


@dataclass(frozen=True)
class CreditableLine:
    line: DocumentLine
    credited: Decimal  # positive quantity already on other (non-void) credit memos
    remaining: Decimal


def creditable_lines(
    invoice: Document, *, exclude_memo: Document | None = None
) -> list[CreditableLine]:
    """The invoice's lines with what is still creditable: original quantity minus what
    its non-void credit memos already credit (memo quantities are stored negative).
    Lines entered negative (a Method 2 "−1" line) have nothing to credit and are left out."""
    memo_lines = DocumentLine.objects.filter(source_line__document=invoice).exclude(
        document__status=DocumentStatus.VOID
    )
    if exclude_memo is not None:
        memo_lines = memo_lines.exclude(document=exclude_memo)
    credited = {
        row["source_line"]: -(row["total"] or ZERO)
        for row in memo_lines.values("source_line").annotate(total=Sum("quantity"))
    }
    rows = []
    for line in invoice.lines.select_related("item", "tax_profile").order_by("position", "id"):
        if line.quantity <= 0:
            continue
        done = credited.get(line.pk, ZERO)
        rows.append(
            CreditableLine(line=line, credited=done, remaining=max(line.quantity - done, ZERO))
        )
    return rows


def credit_memo_quantities(memo: Document) -> dict[int, Decimal]:
    """{source invoice line id: positive quantity} of a memo made from an invoice."""
    return {
        line.source_line_id: -line.quantity
        for line in memo.lines.all()
        if line.source_line_id is not None
    }


def creditable_invoices(customer) -> QuerySet[Document]:
    """The customer's invoices a credit memo can be made from (not void, not credits)."""
    return (
        document_list()
        .filter(customer=customer, kind=DocumentKind.INVOICE, grand_total__gt=0)
        .exclude(status=DocumentStatus.VOID)
        .order_by("-date", "-id")
    )


def credit_memos_of(invoice: Document) -> QuerySet[Document]:
    return invoice.credit_memos.order_by("date", "id")


def over_credited_lines() -> list[tuple[str, int, Decimal, Decimal]]:
    """Invariant 5: (invoice number, line position, invoiced qty, credited qty) for every
    invoice line credited beyond its quantity, summed over all its non-void memos."""
    rows = (
        DocumentLine.objects.filter(source_line__isnull=False)
        .exclude(document__status=DocumentStatus.VOID)
        .values(
            "source_line",
            "source_line__quantity",
            "source_line__position",
            "source_line__document__number",
        )
        .annotate(total=Sum("quantity"))
    )
    return [
        (
            r["source_line__document__number"],
            r["source_line__position"],
            r["source_line__quantity"],
            -r["total"],
        )
        for r in rows
        if -r["total"] > r["source_line__quantity"]
    ]


def active_items() -> QuerySet[Item]:
    return Item.objects.filter(is_active=True).select_related("default_tax_profile")


def active_tax_profiles() -> QuerySet[TaxProfile]:
    return TaxProfile.objects.filter(is_active=True)
