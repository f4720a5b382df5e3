"""Document reads: the Invoices hub, the Payments & Refunds listing, one document and its
lines, the document page's counts and related documents, and the listings' Balance Due
of draft invoices (payments earmarked for them)."""

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from invoicing.models import Document, DocumentKind, DocumentStatus, earmarked_open_expr
from invoicing.models.applications import Application
from invoicing.models.delivery import DocumentSend
from invoicing.models.deposits import Deposit, DepositApplication
from invoicing.models.documents import DocumentLine
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


def _document_with_people():
    return Document.objects.select_related(
        "customer",
        "source_invoice",
        "posted_by",
        "voided_by",
        "created_by",
        "updated_by",
        "posting_entry",
        "void_entry",
    )


def document_get(pk: int) -> Document:
    return _document_with_people().get(pk=pk)


def _count(rows) -> Coalesce:
    """COUNT(*) of `rows` (a queryset filtered on OuterRef) as a subquery column."""
    counted = rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    return Coalesce(Subquery(counted), 0, output_field=IntegerField())


def _pointing_at(outer) -> Q:
    """Documents tied to the document `outer` names: refunds of it, payments earmarked for
    it, refunds prepared on it, credit memos made from it."""
    return (
        Q(refund_of=outer) | Q(earmarked_for=outer) | Q(prepared_on=outer) | Q(source_invoice=outer)
    )


def document_page_get(pk: int) -> Document:
    """`document_get` plus, in the same query, what the document page must know before it
    reads its sections (so it reads only the sections that have rows, a page of each):
    `line_count`, `application_count` (both directions, removed ones included),
    `deposit_application_count`, `related_count` (`documents_tied_to`), `send_count`,
    `has_deposits` (the customer has a posted deposit with something left to use) and
    `earmarked_open` (a draft's Balance Due, as the listings have it)."""
    here = OuterRef("pk")
    usable_deposits = Deposit.objects.filter(
        customer=OuterRef("customer_id"),
        status=DocumentStatus.POSTED,
        remaining__gt=F("reserved"),
    )
    return (
        _document_with_people()
        .annotate(
            line_count=_count(DocumentLine.objects.filter(document=here)),
            application_count=_count(Application.objects.filter(Q(target=here) | Q(source=here))),
            deposit_application_count=_count(DepositApplication.objects.filter(invoice=here)),
            related_count=_count(Document.objects.filter(_pointing_at(here))),
            send_count=_count(DocumentSend.objects.filter(document=here)),
            has_deposits=Exists(usable_deposits),
            earmarked_open=earmarked_open_subquery(),
        )
        .get(pk=pk)
    )


def documents_tied_to(document: Document) -> list[Document]:
    """Every document tied to `document` (`_pointing_at`), oldest first, in one query: the
    page splits them into Payments & Refunds and credit memos, and the policy reads them
    instead of asking again (`invoicing.policies`, `tied_documents`)."""
    return list(
        Document.objects.filter(_pointing_at(document))
        .select_related("customer", "refund_of", "created_by", "posted_by")
        .order_by("date", "id")
    )


def document_lines(document: Document):
    return document.lines.select_related("item", "tax_profile")


def posted_documents() -> QuerySet[Document]:
    return Document.objects.filter(status=DocumentStatus.POSTED)
