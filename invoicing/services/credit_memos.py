"""Credit memos made from an invoice (Spectra's Method 1): which of the invoice's lines, how
much of each is left to credit over all its memos, and creating or changing such a memo
through the documents' create and edit."""

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from config.roles import Action, require
from config.versioning import refuse_if_stale
from invoicing.exceptions import InvoicingError, OverCredit, PostedDocumentLocked, StaleEdit
from invoicing.models import Document, DocumentKind, DocumentStatus
from invoicing.policies import Act, enforce
from invoicing.pricing import credit_line_amounts
from invoicing.selectors.credit_memos import creditable_lines
from invoicing.services.base import LineInput, _lock, locked_message, service
from invoicing.services.documents import document_create, document_update_draft


def _credit_lines_from_invoice(
    invoice: Document, quantities: dict[int, Decimal], *, exclude_memo: Document | None
) -> list[LineInput]:
    """Turn {invoice line id: positive quantity to credit} into negative memo lines,
    refusing more than each line has left to credit over all the invoice's memos."""
    available = {row.line.pk: row for row in creditable_lines(invoice, exclude_memo=exclude_memo)}
    errors, lines = {}, []
    for line_id, quantity in quantities.items():
        if not quantity:
            continue
        row = available.get(line_id)
        if row is None:
            raise InvoicingError(f"Line {line_id} isn't on {invoice.number}.", code="unknown_line")
        if quantity < 0:
            errors[line_id] = "Enter the quantity to credit as a positive number."
        elif quantity > row.remaining:
            errors[line_id] = (
                f"Only {row.remaining.normalize():f} of line {row.line.position} "
                f"({row.line.item.code}) can still be credited."
            )
        else:
            lines.append(_credit_line(row, quantity))
    if errors:
        raise OverCredit({f"qty_{k}": [v] for k, v in errors.items()}, code="over_credit")
    if not lines:
        raise InvoicingError("Choose at least one line and a quantity to credit.", code="no_lines")
    return lines


def _credit_line(row, quantity: Decimal) -> LineInput:
    """A memo line crediting `quantity` of a creditable invoice line. The memo that takes
    the last of the line gets exactly what remains of its amount and tax; any other never
    more than remains (cents never leak)."""
    src = row.line
    amounts = credit_line_amounts(
        quantity=quantity,
        unit_price=src.unit_price,
        unit_adjustment=src.unit_adjustment,
        tax_rate=src.tax_rate,
        remaining_extended=row.remaining_extended,
        remaining_tax=row.remaining_tax,
        takes_last=quantity == row.remaining,
    )
    return LineInput(
        item=src.item,
        description=src.description,
        quantity=-quantity,
        unit_price=src.unit_price,
        unit_adjustment=src.unit_adjustment,
        tax_profile=src.tax_profile,
        tax_rate=src.tax_rate,
        source_line=src,
        extended_amount=amounts.extended,
        tax_amount=amounts.tax,
    )


def _lock_invoice_for_credit(invoice: Document) -> Document:
    # Every memo of an invoice locks the invoice row first, so two reps crediting the same
    # invoice at once queue here and the second sees the first one's quantities.
    invoice = _lock(invoice)
    if invoice.kind != DocumentKind.INVOICE or invoice.is_credit:
        raise InvoicingError("Credit memos are made from invoices.", code="not_invoice")
    if invoice.status == DocumentStatus.VOID:
        raise InvoicingError(f"{invoice.number} is void; it can't be credited.", code="void")
    return invoice


@service("credit_memo_create", needs=Action.EDIT_DRAFTS, dated="The credit memo date")
def credit_memo_create_from_invoice(
    *,
    invoice: Document,
    quantities: dict[int, Decimal],
    reason: str,
    by,
    date: datetime.date | None = None,
    note: str = "",
    description: str = "",
) -> Document:
    invoice = _lock_invoice_for_credit(invoice)
    enforce(by, Act.CREDIT_MEMO, invoice)
    lines = _credit_lines_from_invoice(invoice, quantities, exclude_memo=None)
    return document_create.work(
        kind=DocumentKind.CREDIT_MEMO,
        customer=invoice.customer,
        date=date or timezone.localdate(),
        billing_terms=invoice.billing_terms,
        description=description or f"Credit for {invoice.number}",
        source_invoice=invoice,
        reason=reason,
        note=note,
        lines=lines,
        by=by,
    )


@transaction.atomic
def credit_memo_update_from_invoice(
    *,
    memo: Document,
    quantities: dict[int, Decimal],
    reason: str,
    by,
    expected_version: int | None = None,
    date: datetime.date | None = None,
    note: str = "",
    description: str = "",
) -> Document:
    require(by, Action.EDIT_DRAFTS)
    invoice = _lock_invoice_for_credit(memo.source_invoice)
    memo = _lock(memo)
    if not memo.is_draft:
        raise PostedDocumentLocked(locked_message(memo))
    # Stale before over-credit: a rep whose page is out of date should reload, not fix lines.
    refuse_if_stale(memo, expected_version, StaleEdit)
    lines = _credit_lines_from_invoice(invoice, quantities, exclude_memo=memo)
    return document_update_draft(
        document=memo,
        date=date,
        description=description or memo.description,
        reason=reason,
        note=note,
        lines=lines,
        by=by,
        expected_version=expected_version,
    )
