"""Document reads: the Invoices hub, the Payments & Refunds listing, one document and its
lines, and the listings' Balance Due of draft invoices (payments earmarked for them)."""

from django.db.models import OuterRef, Q, QuerySet

from invoicing.models import Document, DocumentKind, DocumentStatus, earmarked_open_expr
from ledger.aggregates import grouped_money_subquery

MONEY_KINDS = (DocumentKind.PAYMENT, DocumentKind.REFUND)


def earmarked_open_subquery():
    """Per invoice, what its earmarked payments still hold (`Document.earmarked_total`, as
    an annotation for listings)."""
    rows = Document.objects.filter(earmarked_for=OuterRef("pk"), kind=DocumentKind.PAYMENT)
    return grouped_money_subquery(rows, "earmarked_for", earmarked_open_expr())


def money_documents() -> QuerySet[Document]:
    """Payments and refunds, for the Payments & Refunds listing."""
    return Document.objects.filter(kind__in=MONEY_KINDS).select_related(
        "customer", "refund_of", "created_by", "posted_by"
    )


def money_documents_for(document: Document) -> QuerySet[Document]:
    """Payments and refunds tied to a document: refunds of it, payments earmarked for it
    (Method 2) and refunds prepared on it. Applications are listed separately."""
    return (
        money_documents()
        .filter(Q(refund_of=document) | Q(earmarked_for=document) | Q(prepared_on=document))
        .order_by("date", "id")
    )


def hub_documents() -> QuerySet[Document]:
    """What the Invoices hub lists: invoices and credit memos, plus unapplied payments —
    a customer credit is any document with a negative balance (aACE), so an overpayment
    lists with the credits until it is used."""
    open_payment = Q(kind=DocumentKind.PAYMENT, status=DocumentStatus.POSTED, balance_due__lt=0)
    return document_list().filter(~Q(kind__in=MONEY_KINDS) | open_payment)


def document_list() -> QuerySet[Document]:
    return Document.objects.select_related("customer").annotate(
        earmarked_open=earmarked_open_subquery()
    )


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
