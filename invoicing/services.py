"""Writes to A/R documents: create and edit drafts, post, void.

Each public function is one state change in one transaction, checks who may do it, locks
what it changes, and writes an audit event.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.roles import Action, require
from customers.models import BillingTerms, Customer
from invoicing.exceptions import InvoicingError, PostedDocumentLocked
from invoicing.models import (
    Document,
    DocumentKind,
    DocumentLine,
    DocumentSequence,
    DocumentStatus,
    Item,
    TaxProfile,
)
from invoicing.pricing import document_totals, line_amounts
from ledger.models import Account
from ledger.money import ZERO
from ledger.services import (
    Leg,
    audit_log,
    ensure_period_open,
    journal_entry_post,
    journal_entry_reverse,
    legs_from_signed,
    signed_accumulator,
)

SEQUENCE_PREFIX = {DocumentKind.INVOICE: "INV-", DocumentKind.CREDIT_MEMO: "CM-"}


@dataclass(frozen=True)
class LineInput:
    item: Item
    quantity: Decimal
    unit_price: Decimal
    tax_profile: TaxProfile
    description: str = ""
    unit_adjustment: Decimal = ZERO
    source_line: DocumentLine | None = None


def _next_number(kind: str) -> str:
    """Take the next number of a kind. The sequence row stays locked until the caller's
    transaction commits, so concurrent creators get distinct, consecutive numbers."""
    seq = DocumentSequence.objects.select_for_update().filter(kind=kind).first()
    if seq is None:
        DocumentSequence.objects.get_or_create(
            kind=kind, defaults={"prefix": SEQUENCE_PREFIX[kind]}
        )
        seq = DocumentSequence.objects.select_for_update().get(kind=kind)
    seq.last_number += 1
    seq.save(update_fields=["last_number"])
    return f"{seq.prefix}{seq.last_number:06d}"


def _build_lines(document: Document, lines: list[LineInput]) -> list[DocumentLine]:
    built = []
    for position, line in enumerate(lines, start=1):
        amounts = line_amounts(
            quantity=line.quantity,
            unit_price=line.unit_price,
            unit_adjustment=line.unit_adjustment,
            tax_rate=line.tax_profile.rate,
        )
        built.append(
            DocumentLine(
                document=document,
                position=position,
                item=line.item,
                description=line.description or line.item.description,
                quantity=line.quantity,
                unit_price=line.unit_price,
                unit_adjustment=line.unit_adjustment or ZERO,
                tax_profile=line.tax_profile,
                tax_rate=line.tax_profile.rate,
                extended_amount=amounts.extended,
                tax_amount=amounts.tax,
                source_line=line.source_line,
            )
        )
    return built


def _set_totals(document: Document, built: list[DocumentLine]) -> None:
    from invoicing.pricing import LineAmounts

    totals = document_totals([LineAmounts(line.extended_amount, line.tax_amount) for line in built])
    document.subtotal = totals.subtotal
    document.tax_total = totals.tax
    document.grand_total = totals.grand_total
    for field in ("subtotal", "tax_total", "grand_total"):
        if abs(getattr(document, field)) >= Decimal("1e12"):
            raise InvoicingError(
                "The document's total is too large (at most 999,999,999,999.99).", code="too_large"
            )


def _check_lines(lines: list[LineInput]) -> None:
    if not lines:
        raise InvoicingError("Add at least one line.", code="no_lines")


@transaction.atomic
def document_create(
    *,
    customer: Customer,
    date: datetime.date,
    lines: list[LineInput],
    by,
    kind: str = DocumentKind.INVOICE,
    billing_terms: str | None = None,
    description: str = "",
    source_invoice: Document | None = None,
    reason: str = "",
    note: str = "",
) -> Document:
    require(by, Action.EDIT_DRAFTS)
    _check_lines(lines)
    terms = billing_terms or customer.billing_terms
    document = Document(
        kind=kind,
        number=_next_number(kind),
        customer=customer,
        date=date,
        billing_terms=terms,
        due_date=BillingTerms.due_date(terms, date),
        description=description,
        source_invoice=source_invoice,
        reason=reason,
        note=note,
        created_by=by,
        updated_by=by,
    )
    built = _build_lines(document, lines)
    _set_totals(document, built)
    document.save()
    DocumentLine.objects.bulk_create(built)
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} created",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
    )
    return document


def _lock(document: Document) -> Document:
    return Document.objects.select_for_update().get(pk=document.pk)


@transaction.atomic
def document_update_draft(
    *,
    document: Document,
    by,
    lines: list[LineInput],
    customer: Customer | None = None,
    date: datetime.date | None = None,
    billing_terms: str | None = None,
    description: str | None = None,
    reason: str | None = None,
    note: str | None = None,
) -> Document:
    """Replace a draft's header and lines (Spectra's Method 2 works on drafts only)."""
    require(by, Action.EDIT_DRAFTS)
    document = _lock(document)
    if not document.is_draft:
        raise PostedDocumentLocked()
    _check_lines(lines)
    before = document.grand_total
    if customer is not None:
        document.customer = customer
    if date is not None:
        document.date = date
    if billing_terms:
        document.billing_terms = billing_terms
    if description is not None:
        document.description = description
    if reason is not None:
        document.reason = reason
    if note is not None:
        document.note = note
    document.due_date = BillingTerms.due_date(document.billing_terms, document.date)
    document.updated_by = by
    built = _build_lines(document, lines)
    _set_totals(document, built)
    document.save()
    document.lines.all().delete()
    DocumentLine.objects.bulk_create(built)
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} changed",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
        total_before=str(before),
    )
    return document


def posting_legs(document: Document) -> list[Leg]:
    """The entry posting `document` writes: A/R for the grand total against each line's
    account and Sales Tax Payable. Works for either sign, so a credit memo (negative
    lines) debits its accounts and credits A/R."""
    accounts = {
        a.code: a
        for a in Account.objects.filter(
            code__in=[Account.RECEIVABLE, Account.SALES_TAX, Account.SALES_RETURNS]
        )
    }
    signed = signed_accumulator()  # debit positive
    customer_id = document.customer_id
    signed[(accounts[Account.RECEIVABLE], customer_id)] += document.grand_total
    lines = document.lines.select_related("item__income_account", "item__credit_account")
    for line in lines:
        if document.kind == DocumentKind.CREDIT_MEMO:
            account = line.item.credit_account or accounts[Account.SALES_RETURNS]
        else:
            account = line.item.income_account
        signed[(account, None)] -= line.extended_amount
        if line.tax_amount:
            signed[(accounts[Account.SALES_TAX], None)] -= line.tax_amount
    return legs_from_signed(signed, memo=f"{document.title} {document.number}")


@transaction.atomic
def document_post(*, document: Document, by) -> Document:
    require(by, Action.POST)
    document = _lock(document)
    if document.status != DocumentStatus.DRAFT:
        raise InvoicingError(
            f"{document.number} is already {document.get_status_display().lower()}.",
            code="not_draft",
        )
    if not document.lines.exists():
        raise InvoicingError("A document needs at least one line to be posted.", code="no_lines")
    ensure_period_open(document.date)
    entry = journal_entry_post(
        date=document.date,
        memo=f"{document.title} {document.number} — {document.customer.name}",
        legs=posting_legs(document),
        by=by,
        source=document,
        source_ref=document.number,
    )
    document.status = DocumentStatus.POSTED
    document.posted_by = by
    document.posted_at = timezone.now()
    document.posting_entry = entry
    document.balance_due = document.grand_total
    document.updated_by = by
    document.save()
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} posted",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
        journal_entry=entry.pk,
    )
    return document


@transaction.atomic
def document_void(*, document: Document, by, date: datetime.date | None = None) -> Document:
    """Void a posted document: the exact reverse of its entry, dated `date` (default today)."""
    require(by, Action.VOID)
    document = _lock(document)
    if document.status != DocumentStatus.POSTED:
        raise InvoicingError(
            "Only a posted document can be voided; delete a draft instead.", code="not_posted"
        )
    if document.balance_due != document.grand_total:
        raise InvoicingError(
            f"{document.number} has applications, payments or refunds; remove them before voiding.",
            code="has_applications",
        )
    date = date or timezone.localdate()
    if date < document.date:
        raise ValidationError(
            {"date": "The void date can't be before the document's date."}, code="void_before_date"
        )
    reversal = journal_entry_reverse(
        entry=document.posting_entry,
        date=date,
        by=by,
        memo=f"Void of {document.title} {document.number}",
    )
    document.status = DocumentStatus.VOID
    document.voided_by = by
    document.voided_at = timezone.now()
    document.void_date = date
    document.void_entry = reversal
    document.balance_due = ZERO
    document.updated_by = by
    document.save()
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} voided",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
        journal_entry=reversal.pk,
    )
    return document


@transaction.atomic
def document_cancel_draft(*, document: Document, by) -> Document:
    """Void a draft that was never posted. Nothing reached the ledger, so nothing is
    reversed; the number stays used so the sequence has no gaps."""
    require(by, Action.EDIT_DRAFTS)
    document = _lock(document)
    if not document.is_draft:
        raise PostedDocumentLocked()
    document.status = DocumentStatus.VOID
    document.voided_by = by
    document.voided_at = timezone.now()
    document.void_date = timezone.localdate()
    document.updated_by = by
    document.save()
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} draft cancelled",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
    )
    return document
