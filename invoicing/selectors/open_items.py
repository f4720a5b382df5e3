"""Open items: each document's open amount (stored, or recomputed from totals and
applications as of any date), the open invoices and credits to pair, and the applications
that pair them. What a credit is lives with the model (`invoicing.models.CREDIT_Q`)."""

import datetime
from decimal import Decimal

from django.db.models import F, Q, QuerySet

from invoicing.models import (
    Application,
    ApplicationBatch,
    DepositApplication,
    Document,
    DocumentKind,
    DocumentStatus,
)
from invoicing.selectors.documents import posted_documents
from ledger.money import ZERO


def _applied_q(as_of: datetime.date | None) -> Q:
    """Applications in force: not removed, or (as of a date) made on or before it and not
    removed by then."""
    if as_of is None:
        return Q(removed_at__isnull=True)
    return Q(date__lte=as_of) & (Q(removed_on__isnull=True) | Q(removed_on__gt=as_of))


def computed_open_amounts(
    *, as_of: datetime.date | None = None, customer=None, document: Document | None = None
) -> dict[int, Decimal]:
    """{document id: open amount} recomputed from totals and applications — the stored
    `balance_due` must equal it (check_ledger), and aging uses it as of any date. The one
    computation of an open amount: `open_amount_as_of` is this for one document.

    A document counts from its date until its void date; drafts never count.
    """
    docs = Document.objects.exclude(status=DocumentStatus.DRAFT).exclude(posting_entry=None)
    apps = Application.objects.filter(_applied_q(as_of))
    deposit_apps = DepositApplication.objects.filter(_applied_q(as_of))
    if customer is not None:
        docs = docs.filter(customer=customer)
        apps = apps.filter(customer=customer)
        deposit_apps = deposit_apps.filter(invoice__customer=customer)
    if document is not None:
        docs = docs.filter(pk=document.pk)
        apps = apps.filter(Q(target=document) | Q(source=document))
        deposit_apps = deposit_apps.filter(invoice=document)
    if as_of is not None:
        docs = docs.filter(date__lte=as_of).exclude(void_date__lte=as_of)
    else:
        docs = docs.filter(status=DocumentStatus.POSTED)
    open_amounts = dict(docs.values_list("pk", "grand_total"))
    for target_id, source_id, amount in apps.values_list("target_id", "source_id", "amount"):
        if target_id in open_amounts:
            open_amounts[target_id] -= amount
        if source_id in open_amounts:
            open_amounts[source_id] += amount
    for invoice_id, amount in deposit_apps.values_list("invoice_id", "amount"):
        if invoice_id in open_amounts:
            open_amounts[invoice_id] -= amount
    return open_amounts


def open_amount_as_of(document: Document, as_of: datetime.date) -> Decimal:
    """The document's open amount at the end of `as_of` (0 if it wasn't open then)."""
    return computed_open_amounts(as_of=as_of, document=document).get(document.pk, ZERO)


def open_invoices(customer) -> QuerySet[Document]:
    """The customer's posted documents with a positive open amount, oldest due first."""
    return (
        posted_documents()
        .filter(customer=customer, balance_due__gt=0)
        .order_by("due_date", "date", "id")
    )


def open_credits(customer) -> QuerySet[Document]:
    """The customer's posted documents with a negative open amount (credits), oldest first."""
    return (
        posted_documents()
        .filter(customer=customer, balance_due__lt=0)
        .exclude(balance_due=-F("reserved"))
        .order_by("date", "id")
    )


def applications_for(document: Document) -> QuerySet[Application]:
    """Every application touching the document, removed ones included (history)."""
    return (
        Application.objects.filter(Q(target=document) | Q(source=document))
        .select_related("target", "source", "created_by", "removed_by")
        .order_by("date", "id")
    )


def application_batch_done(key: str) -> bool:
    return bool(key) and ApplicationBatch.objects.filter(key=key).exists()


def bad_applications() -> list[str]:
    """Applications that don't pair a positive and a negative posted item of one customer."""
    problems = []
    for app in Application.objects.select_related("target", "source"):
        if not (app.target.customer_id == app.source.customer_id == app.customer_id):
            problems.append(f"application {app.pk} pairs documents of different customers")
        if app.target.grand_total <= 0 or app.source.grand_total >= 0:
            problems.append(f"application {app.pk} doesn't pair a positive and a negative item")
        posted = app.target.status == app.source.status == DocumentStatus.POSTED
        if app.is_active and not posted:
            problems.append(f"application {app.pk} is in force on a document that isn't posted")
    return problems


def refund_source(document: Document) -> tuple[Document | None, Decimal]:
    """The credit a refund "from" `document` draws on, and how much it can refund.

    A posted credit (credit memo, unapplied payment) refunds its own open credit. A draft
    invoice lowered below what was paid on it (Method 2) refunds from its earmarked
    payment, up to the negative Balance Due it shows.
    """
    if document.kind == DocumentKind.REFUND:
        return None, ZERO
    if document.is_posted and document.balance_due < 0:
        return document, document.usable
    if document.is_draft and document.kind == DocumentKind.INVOICE:
        owed = -document.display_balance
        if owed > 0:
            payments = document.earmarked_payments.filter(
                kind=DocumentKind.PAYMENT, status=DocumentStatus.POSTED
            ).order_by("pk")
            for payment in payments:
                if payment.usable > 0:
                    return payment, min(owed, payment.usable)
    return None, ZERO
