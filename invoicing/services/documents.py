"""A/R documents' life: create and edit drafts, post (one balanced entry; posting then runs
the payments' earmark step), void (the exact reverse), cancel a draft. Also what a
service accepts as lines, and the entry posting writes (shown before posting)."""

import datetime
from dataclasses import replace

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.roles import Action, require
from config.versioning import claim_version
from customers.models import BillingTerms, Customer
from invoicing.exceptions import InvoicingError, PostedDocumentLocked, StaleEdit
from invoicing.models import (
    Application,
    ApplicationOrigin,
    DepositApplication,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.policies import Act, enforce
from invoicing.services.applications import _credit_unapply
from invoicing.services.base import (
    LineInput,
    _as_credit_lines,
    _build_lines,
    _check_credit_total,
    _check_lines,
    _lock,
    _lock_deposits,
    _lock_in_order,
    _next_number,
    _set_totals,
    audit,
    date_not_before,
    kind_action,
    locked_message,
    mark_void,
    post_entry,
    service,
    transfer_legs,
)
from invoicing.services.deposits import _deposit_unapply
from invoicing.services.payments import _after_post, _posting_lock_set
from ledger.models import SystemRole
from ledger.money import ZERO, clean_amount, clean_quantity
from ledger.selectors import system_accounts
from ledger.services import (
    Leg,
    build_legs,
    check_business_date,
    journal_entry_reverse,
)


def clean_line_inputs(lines) -> list[LineInput]:
    """Lines as a service accepts them, whoever calls: quantities with at most 4 decimal
    places, prices and adjustments with at most 2, exact decimals in ASCII digits (never
    floats); ValidationError naming the line otherwise."""
    cleaned = []
    for position, line in enumerate(lines or [], start=1):
        try:
            line = replace(
                line,
                quantity=clean_quantity(line.quantity),
                unit_price=clean_amount(line.unit_price, field="unit_price", positive=False),
                unit_adjustment=clean_amount(
                    line.unit_adjustment or ZERO, field="unit_adjustment", positive=False
                ),
            )
        except ValidationError as exc:
            raise ValidationError(
                {
                    field: [f"Line {position}: {message}" for message in messages]
                    for field, messages in exc.message_dict.items()
                }
            ) from None
        cleaned.append(line)
    return cleaned


@service(
    "document_create",
    needs=Action.EDIT_DRAFTS,
    dated="The document date",
    clean={"lines": clean_line_inputs},
)
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
    """Create a draft invoice or credit memo (the editor's kinds); `key` makes a re-sent
    form create it once. Payments, refunds and deposits have their own services."""
    if kind not in (DocumentKind.INVOICE, DocumentKind.CREDIT_MEMO):
        raise InvoicingError(
            "The editor makes invoices and credit memos; payments, refunds and deposits have "
            "their own forms.",
            code="wrong_kind",
        )
    _check_lines(lines)
    if kind == DocumentKind.CREDIT_MEMO:
        lines = _as_credit_lines(lines)
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
    _check_credit_total(document)
    document.save()
    DocumentLine.objects.bulk_create(built)
    audit(by, kind_action(document, "created"), document, document.grand_total)
    return document


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
    expected_version: int | None = None,
) -> Document:
    """Replace a draft's header and lines (Spectra's Method 2 works on drafts only).
    `expected_version` is the version the editor loaded: a save based on an older one is
    refused with StaleEdit, and a save bumps the version."""
    require(by, Action.EDIT_DRAFTS)
    lines = clean_line_inputs(lines)
    check_business_date(date, what="The document date")
    document = _lock(document)
    if not document.is_draft:
        raise PostedDocumentLocked(locked_message(document))
    enforce(by, Act.EDIT, document)
    claim_version(document, expected_version, StaleEdit)
    _check_lines(lines)
    if document.kind == DocumentKind.CREDIT_MEMO:
        lines = _as_credit_lines(lines)
    before = document.grand_total
    if customer is not None and customer.pk != document.customer_id:
        _check_customer_change(document)
        document.customer = customer
    header = {"date": date, "billing_terms": billing_terms or None, "description": description}
    header.update(reason=reason, note=note)
    for name, value in header.items():
        if value is not None:
            setattr(document, name, value)
    document.due_date = BillingTerms.due_date(document.billing_terms, document.date)
    document.updated_by = by
    built = _build_lines(document, lines)
    _set_totals(document, built)
    _check_credit_total(document)
    document.save()
    document.lines.all().delete()
    DocumentLine.objects.bulk_create(built)
    changed = kind_action(document, "changed")
    audit(by, changed, document, document.grand_total, total_before=str(before))
    return document


def _check_customer_change(document: Document) -> None:
    """A draft paid on (Method 2) or made from an invoice keeps its customer."""
    taken = [
        *document.earmarked_payments.exclude(status=DocumentStatus.VOID),
        *document.refunds_prepared_on.exclude(status=DocumentStatus.VOID),
    ]
    numbers = ", ".join(d.number for d in sorted(taken, key=lambda d: (d.date, d.pk), reverse=True))
    if numbers:
        raise ValidationError(
            {
                "customer": f"Payments were taken on {document.number} ({numbers}); "
                "it stays with their customer."
            },
            code="earmarked_customer",
        )
    if document.source_invoice_id:
        raise ValidationError(
            {
                "customer": f"{document.number} was made from "
                f"{document.source_invoice.number}; it stays with that invoice's customer."
            },
            code="memo_customer",
        )


def posting_legs(document: Document) -> list[Leg]:
    """The entry posting `document` writes: A/R for the grand total against each line's
    account and Sales Tax Payable. Works for either sign, so a credit memo (negative
    lines) debits its accounts and credits A/R."""
    memo = f"{document.title} {document.number}"
    if document.is_money:
        # A payment: Dr Bank (or Card Clearing), Cr A/R. A refund: Dr A/R, Cr the same.
        cash_role = PaymentMethod.cash_account_role(document.method)
        return transfer_legs(
            SystemRole.RECEIVABLE,
            cash_role,
            document.grand_total,
            customer_id=document.customer_id,
            memo=memo,
        )
    accounts = system_accounts(
        SystemRole.RECEIVABLE, SystemRole.SALES_TAX, SystemRole.SALES_RETURNS
    )
    rows = [(accounts[SystemRole.RECEIVABLE], document.customer_id, document.grand_total)]
    lines = document.lines.select_related("item__income_account", "item__credit_account")
    for line in lines:
        if document.kind == DocumentKind.CREDIT_MEMO:
            account = line.item.credit_account or accounts[SystemRole.SALES_RETURNS]
        else:
            account = line.item.income_account
        rows.append((account, None, -line.extended_amount))
        if line.tax_amount:
            rows.append((accounts[SystemRole.SALES_TAX], None, -line.tax_amount))
    return build_legs(rows, memo=memo)


@service("document_post", needs=Action.POST)
def document_post(*, document: Document, by) -> Document:
    """Post a draft invoice, credit memo or payment: one balanced entry dated with the
    document's date; the document is locked from then on. Refunds are released instead.
    The returned document carries `post_notes`: what posting set in motion could not do
    in full (a planned invoice paid meanwhile)."""
    docs = _lock_in_order(_posting_lock_set(document))
    document = docs[document.pk]
    enforce(by, Act.POST, document)
    if not document.is_money and not document.lines.exists():
        raise InvoicingError("A document needs at least one line to be posted.", code="no_lines")
    document = _post(document, by)
    notes = _after_post(document, docs, by)
    document.refresh_from_db()
    document.post_notes = notes
    return document


def _post(document: Document, by) -> Document:
    """Write the posting entry of a locked draft and mark it posted."""
    check_business_date(document.date)
    entry = post_entry(
        document,
        by,
        memo=f"{document.title} {document.number} — {document.customer.name}",
        legs=posting_legs(document),
        balance_due=document.grand_total,
        updated_by=by,
    )
    verb = "released" if document.kind == DocumentKind.REFUND else "posted"
    audit(by, kind_action(document, verb), document, document.grand_total, journal_entry=entry.pk)
    return document


def void_undo_list(document: Document) -> list[str]:
    """What "Unapply all and void" would undo first, in words (the confirmation lists it)."""
    undo = []
    for app in Application.objects.filter(
        Q(target=document) | Q(source=document), removed_at__isnull=True
    ).select_related("target", "source"):
        other = app.source if app.target_id == document.pk else app.target
        undo.append(f"Unapply {app.amount:,.2f} with {other.number}")
    for app in document.deposit_applications.filter(removed_at__isnull=True).select_related(
        "deposit"
    ):
        undo.append(f"Unapply {app.amount:,.2f} of deposit {app.deposit.number}")
    return undo


@service("document_void", needs=Action.VOID, dated="The void date")
def document_void(
    *, document: Document, by, date: datetime.date | None = None, unapply_all: bool = False
) -> Document:
    """Void a posted document: the exact reverse of its entry, dated `date` (default today).
    Refused while anything is applied, reserved or pending against it; with `unapply_all`
    its applications (those made by hand and by earmarks) and deposit applications are
    removed first, in the same transaction."""
    date = date or timezone.localdate()
    apps = list(
        Application.objects.filter(
            Q(target=document) | Q(source=document),
            removed_at__isnull=True,
            origin__in=[ApplicationOrigin.MANUAL, ApplicationOrigin.EARMARK],
        )
    )
    deposit_apps = list(document.deposit_applications.filter(removed_at__isnull=True))
    ids = [document.pk, *(a.target_id for a in apps), *(a.source_id for a in apps)]
    docs = _lock_in_order(ids)
    document = docs[document.pk]
    _lock_deposits(a.deposit_id for a in deposit_apps)
    # Under the locks: what is still applied (someone may have unapplied meanwhile; that
    # needn't be undone again). Anything applied since the read above is refused below.
    apps = list(Application.objects.filter(pk__in=[a.pk for a in apps], removed_at__isnull=True))
    deposit_apps = list(
        DepositApplication.objects.filter(
            pk__in=[a.pk for a in deposit_apps], removed_at__isnull=True
        )
    )
    if document.status != DocumentStatus.POSTED:
        enforce(by, Act.VOID, document)
    message = "The void date can't be before the document's date."
    date_not_before(date, document.date, message, code="void_before_date")
    if unapply_all:
        for app in apps:
            _credit_unapply(app, by, date, system=True)
        for app in deposit_apps:
            _deposit_unapply(app, by, date, system=True)
        document.refresh_from_db()
    enforce(by, Act.VOID, document)
    reversal = journal_entry_reverse(
        entry=document.posting_entry,
        date=date,
        by=by,
        memo=f"Void of {document.title} {document.number}",
    )
    mark_void(document, by, date, void_entry=reversal, balance_due=ZERO)
    voided = kind_action(document, "voided")
    audit(by, voided, document, document.grand_total, journal_entry=reversal.pk)
    return document


@service("document_cancel", needs=Action.EDIT_DRAFTS)
def document_cancel_draft(*, document: Document, by) -> Document:
    """Void a draft that was never posted. Nothing reached the ledger, so nothing is
    reversed; the number stays used so the sequence has no gaps."""
    document = _lock(document)
    if document.status == DocumentStatus.POSTED and not document.is_money:
        raise PostedDocumentLocked()
    enforce(by, Act.CANCEL, document)
    mark_void(document, by, timezone.localdate())
    audit(by, kind_action(document, "draft cancelled"), document, document.grand_total)
    return document
