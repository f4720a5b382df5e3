"""Reads of A/R documents: listings, open items, customer balances."""

import datetime
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from invoicing.models import Document, DocumentKind, DocumentStatus, Item, TaxProfile
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


def active_items() -> QuerySet[Item]:
    return Item.objects.filter(is_active=True).select_related("default_tax_profile")


def active_tax_profiles() -> QuerySet[TaxProfile]:
    return TaxProfile.objects.filter(is_active=True)
