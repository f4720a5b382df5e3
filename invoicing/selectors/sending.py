"""Reads of what was sent to customers: a document's or deposit's sends, the To Be Sent
list (posted documents not yet delivered the way their customer wants), and the progress
of a batch of sends."""

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from customers.models import Delivery
from invoicing.models import (
    Deposit,
    Document,
    DocumentKind,
    DocumentSend,
    DocumentStatus,
    SendChannel,
    SendStatus,
)

# What the To Be Sent list offers: posted billing and money documents. Deposits have
# their own Email button on their page but are not listed (one table, one model).
SENDABLE_KINDS = (
    DocumentKind.INVOICE,
    DocumentKind.CREDIT_MEMO,
    DocumentKind.PAYMENT,
    DocumentKind.REFUND,
)


def sends_for(obj) -> QuerySet[DocumentSend]:
    """Every send of a document or deposit, newest first."""
    field = "deposit" if isinstance(obj, Deposit) else "document"
    return DocumentSend.objects.filter(**{field: obj}).select_related("created_by")


def _delivered(channel: str) -> Exists:
    return Exists(
        DocumentSend.objects.filter(
            document=OuterRef("pk"), channel=channel, status=SendStatus.SENT
        )
    )


def to_be_sent() -> QuerySet[Document]:
    """Posted documents not yet delivered the customer's way: no email sent to an Email
    customer, no print run for a Print customer. Each row carries `last_send_status` and
    `last_send_error` (its latest send of any channel, if any)."""
    latest = DocumentSend.objects.filter(document=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Document.objects.filter(status=DocumentStatus.POSTED, kind__in=SENDABLE_KINDS)
        .filter(
            Q(customer__delivery=Delivery.EMAIL) & ~_delivered(SendChannel.EMAIL)
            | Q(customer__delivery=Delivery.PRINT) & ~_delivered(SendChannel.PRINT)
        )
        .select_related("customer")
        .annotate(
            last_send_status=Subquery(latest.values("status")[:1]),
            last_send_error=Subquery(latest.values("error")[:1]),
        )
        .order_by("date", "number")
    )


BATCH_LIMIT = 100  # documents one Email selected / Print selected may take


def _ids(values) -> list[int]:
    """The row ids among `values` (strings from a form or a query): ASCII digits that fit a
    database id; anything else is ignored."""
    return [int(v) for v in values if str(v).isascii() and str(v).isdigit() and len(str(v)) <= 18]


def sendable_documents(pks) -> list[Document]:
    """The posted documents of `pks` (a To Be Sent selection), in list order."""
    ids = _ids(pks)
    return list(
        Document.objects.filter(pk__in=ids, status=DocumentStatus.POSTED, kind__in=SENDABLE_KINDS)
        .select_related("customer")
        .order_by("date", "number")
    )


def send_progress(ids) -> dict:
    """Counts of a batch of sends by status, and the failed ones with their reasons."""
    sends = list(
        DocumentSend.objects.filter(pk__in=_ids(ids)[:BATCH_LIMIT])
        .select_related("document", "deposit")
        .order_by("id")
    )
    counts = {status.value: 0 for status in SendStatus}
    for send in sends:
        counts[send.status] += 1
    return {
        "sends": sends,
        "queued": counts[SendStatus.QUEUED],
        "sent": counts[SendStatus.SENT],
        "failed": counts[SendStatus.FAILED],
        "failures": [s for s in sends if s.status == SendStatus.FAILED],
        "ids": ",".join(str(s.pk) for s in sends),
    }
