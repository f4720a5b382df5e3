"""Posting many drafts at once ("Post selected"): one transaction, all or nothing, each
draft checked by the same rule as document_post (invoicing.services.documents)."""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from config.roles import Action
from invoicing.exceptions import InvoicingError
from invoicing.models import Document, DocumentKind, DocumentStatus, PlannedApplication
from invoicing.services.base import posted_fields, service
from invoicing.services.documents import (
    _lines_for_posting,
    _lock_for_posting,
    _postable,
    _posted_action,
    _posting_memo,
)
from invoicing.services.payments import _after_post
from ledger.exceptions import LedgerError
from ledger.services import (
    Leg,
    audit_row_for,
    audit_write,
    journal_entries_post_many,
    posting_state,
)

MAX_BATCH = 1000


class BatchRefused(InvoicingError):
    """Nothing of a "Post selected" was posted; `failures` lists (document number, reason)
    for each draft that couldn't be."""

    def __init__(self, message: str, failures: list[tuple[str, str]], code="batch_refused"):
        super().__init__(message, code=code)
        self.failures = failures


@dataclass
class PostBatch:
    """What a "Post selected" posted (`replayed`: a re-sent form; the first one's)."""

    posted: list[Document]
    notes: list[str] = field(default_factory=list)
    replayed: bool = False


def _batch_posted_with(first: Document | None) -> PostBatch:
    """A re-sent "Post selected": the documents the first request posted (one stamp)."""
    if first is None:
        return PostBatch(posted=[], replayed=True)
    posted = Document.objects.filter(
        posted_by_id=first.posted_by_id, posted_at=first.posted_at
    ).order_by("pk")
    return PostBatch(posted=list(posted), replayed=True)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


@service(
    "documents_post_batch",
    needs=Action.POST,
    store=lambda batch: batch.posted[0] if batch.posted else None,
    load=_batch_posted_with,
)
def documents_post_batch(
    *, documents: list, by, versions: dict[int, int] | None = None
) -> PostBatch:
    """Post up to 1,000 drafts ("Post selected") in one transaction, all or nothing: each
    draft checked by the same rule as document_post (`_postable`: policy, lines, dates,
    a balanced entry) and, with `versions` ({id: version the page showed}), unchanged
    since it was listed. If any draft can't be posted, nothing is and BatchRefused lists
    each one with its reason. Entries, lines, documents and audit rows are written in a
    few statements whatever the number of drafts; what posting sets in motion (a
    payment's planned allocations, earmarks) runs as in document_post."""
    ids = [getattr(d, "pk", d) for d in documents or ()]
    if not ids:
        raise InvoicingError("Select at least one draft to post.", code="nothing_selected")
    if len(set(ids)) > MAX_BATCH:
        raise InvoicingError(
            f"Select at most {MAX_BATCH:,} drafts at a time (you selected {len(set(ids)):,}).",
            code="too_many",
        )
    versions = versions or {}
    docs = _lock_for_posting(ids)
    state = posting_state()
    chosen = [docs[pk] for pk in sorted(set(ids)) if pk in docs]
    lines = _lines_for_posting(chosen)
    failures: list[tuple[str, str]] = []
    legs: dict[int, list[Leg]] = {}
    for pk in sorted(set(ids)):
        document = docs.get(pk)
        if document is None:
            failures.append((f"#{pk}", "It no longer exists."))
            continue
        try:
            legs[pk] = _postable(document, by, lines.get(pk, []), state, versions.get(pk))
        except (ValidationError, LedgerError, PermissionDenied) as exc:
            failures.append((document.number, _reason(exc)))
    if failures:
        raise BatchRefused(
            f"Nothing was posted: {len(failures):,} of the {len(set(ids)):,} selected "
            f"{'draft' if len(set(ids)) == 1 else 'drafts'} can't be posted.",
            failures,
        )
    events: list = []
    entries = journal_entries_post_many(
        entries=[
            {
                "date": d.date,
                "memo": _posting_memo(d),
                "legs": legs[d.pk],
                "source": d,
                "source_ref": d.number,
            }
            for d in chosen
        ],
        by=by,
        state=state,
        audit_into=events,
    )
    now = timezone.now()
    for document, entry in zip(chosen, entries, strict=True):
        # The same stamps as stamp_posted, by id (no related-object bookkeeping per row),
        # and one posted_at for the batch (a re-sent form finds the batch by it).
        document.status = DocumentStatus.POSTED
        document.posting_entry_id, document.posted_by_id = entry.pk, by.pk
        document.posted_at, document.updated_by_id = now, by.pk
        document.balance_due = document.grand_total
        events.append(
            audit_row_for(
                by=by,
                action=_posted_action(document),
                target=document,
                target_ref=document.number,
                amount=document.grand_total,
                journal_entry=entry.pk,
            )
        )
    _save_posted(chosen, by, now)
    audit_write(events)
    notes: list[str] = []
    planned = (
        set(
            PlannedApplication.objects.filter(payment_id__in=[d.pk for d in chosen]).values_list(
                "payment_id", flat=True
            )
        )
        if any(d.kind == DocumentKind.PAYMENT for d in chosen)
        else set()
    )
    earmarked = {
        d.earmarked_for_id
        for d in docs.values()
        if d.kind == DocumentKind.PAYMENT and d.earmarked_for_id
    }
    for document in chosen:
        if _sets_in_motion(document, earmarked, planned):
            notes += _after_post(document, docs, by)
    return PostBatch(posted=chosen, notes=notes)


def _sets_in_motion(document: Document, earmarked: set[int], planned: set[int]) -> bool:
    """Whether posting `document` applies something: a payment's planned allocations or
    earmark; an invoice's earmarked payments (`earmarked`: the invoices locked payments
    are earmarked for)."""
    if document.kind == DocumentKind.PAYMENT:
        return document.pk in planned or bool(document.earmarked_for_id)
    if document.kind == DocumentKind.INVOICE:
        return document.pk in earmarked
    return False


def _save_posted(documents: list[Document], by, now) -> None:
    """The posted columns of many documents in one statement (PostgreSQL: UPDATE … FROM
    unnest; elsewhere bulk_update)."""
    if connection.vendor != "postgresql":
        Document.objects.bulk_update(
            documents, posted_fields(documents[0], ["balance_due", "updated_by"])
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Document._meta.db_table} AS d SET status = %s, posting_entry_id = v.entry, "  # noqa: S608 - our table
            "posted_by_id = %s, posted_at = %s, balance_due = v.balance, updated_by_id = %s, "
            "updated_at = %s FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[]) "
            "AS v(id, entry, balance) WHERE d.id = v.id",
            [
                DocumentStatus.POSTED,
                by.pk,
                now,
                by.pk,
                now,
                [d.pk for d in documents],
                [d.posting_entry_id for d in documents],
                [d.balance_due for d in documents],
            ],
        )
