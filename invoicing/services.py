"""Writes to A/R documents: create and edit drafts, post, void.

Each public function is one state change in one transaction, checks who may do it, locks
what it changes, and writes an audit event.
"""

import datetime
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.roles import Action, require
from config.versioning import claim_version, refuse_if_stale
from customers.models import BillingTerms, Customer
from invoicing import allocator
from invoicing.allocator import Allocation
from invoicing.exceptions import (
    POSTED_LOCKED_MESSAGE,
    InvoicingError,
    OverApplication,
    OverCredit,
    PostedDocumentLocked,
    StaleEdit,
)
from invoicing.models import (
    Application,
    ApplicationBatch,
    ApplicationOrigin,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentSequence,
    DocumentStatus,
    Item,
    PaymentMethod,
    PlannedApplication,
    TaxProfile,
)
from invoicing.policies import Act, decide, enforce
from invoicing.pricing import credit_line_amounts, document_totals, line_amounts
from ledger.idempotency import run_once
from ledger.models import Account, SystemRole
from ledger.money import ZERO, clean_amount, clean_quantity
from ledger.selectors import system_account, system_accounts
from ledger.services import (
    Leg,
    audit_log,
    check_business_date,
    journal_entry_post,
    journal_entry_reverse,
    legs_from_signed,
    signed_accumulator,
)

SEQUENCE_PREFIX = {
    DocumentKind.INVOICE: "INV-",
    DocumentKind.CREDIT_MEMO: "CM-",
    DocumentKind.PAYMENT: "PMT-",
    DocumentKind.REFUND: "RFD-",
    DocumentKind.DEPOSIT: "DEP-",
}


@dataclass(frozen=True)
class LineInput:
    item: Item
    quantity: Decimal
    unit_price: Decimal
    tax_profile: TaxProfile
    description: str = ""
    unit_adjustment: Decimal = ZERO
    source_line: DocumentLine | None = None
    # A credit memo line copies the rate its invoice line was charged, not today's rate.
    tax_rate: Decimal | None = None
    # Fixed amounts instead of quantity × price (the credit memo line that takes the last
    # of an invoice line gets exactly what remains of it); None computes them.
    extended_amount: Decimal | None = None
    tax_amount: Decimal | None = None

    @property
    def rate(self) -> Decimal:
        return self.tax_rate if self.tax_rate is not None else self.tax_profile.rate


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
            tax_rate=line.rate,
            extended=line.extended_amount,
            tax=line.tax_amount,
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
                tax_rate=line.rate,
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
    # Lines are stored in the same 14-digit columns, and lines that cancel out (+N and −N)
    # can overflow them while the totals stay small.
    for line in built:
        if abs(line.extended_amount) >= Decimal("1e12") or abs(line.tax_amount) >= Decimal("1e12"):
            raise InvoicingError(
                f"Line {line.position}'s amount is too large (at most 999,999,999,999.99).",
                code="too_large",
            )
    for field in ("subtotal", "tax_total", "grand_total"):
        if abs(getattr(document, field)) >= Decimal("1e12"):
            raise InvoicingError(
                "The document's total is too large (at most 999,999,999,999.99).", code="too_large"
            )


def _check_lines(lines: list[LineInput]) -> None:
    if not lines:
        raise InvoicingError("Add at least one line.", code="no_lines")


def _as_credit_lines(lines: list[LineInput]) -> list[LineInput]:
    """A credit memo's lines are negative, as Spectra enters them: a line typed as a
    positive amount (2 × 250.00) is stored negative (−2 × 250.00); one typed the aACE way
    (1 × −250.00) is already negative and is kept."""
    normalized = []
    for line in lines:
        # A line made from an invoice line is already signed against it (a discount
        # line's credit is positive).
        if (
            line.source_line is None
            and line.quantity * (line.unit_price - (line.unit_adjustment or ZERO)) > 0
        ):
            line = replace(line, quantity=-line.quantity)
        normalized.append(line)
    return normalized


def _check_credit_total(document: Document) -> None:
    if document.kind == DocumentKind.CREDIT_MEMO and document.grand_total >= 0:
        raise InvoicingError("A credit memo needs a total below zero.", code="credit_not_negative")


@transaction.atomic
def document_create(*, by, key: str = "", **fields) -> Document:
    """Create a draft invoice or credit memo (the editor's kinds); `key` makes a re-sent
    form create it once. Payments, refunds and deposits have their own services."""
    require(by, Action.EDIT_DRAFTS)
    fields["lines"] = clean_line_inputs(fields.get("lines") or [])
    check_business_date(fields.get("date"), what="The document date")
    return run_once(
        key=key, scope="document_create", by=by, work=lambda: _document_create(by=by, **fields)
    )


def _document_create(
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
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} created",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
    )
    return document


def locked_message(document: Document) -> str:
    if document.kind == DocumentKind.CREDIT_MEMO:
        return "Posted credit memos can't be changed — void it and make a new one."
    return POSTED_LOCKED_MESSAGE


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
        taken = document.earmarked_payments.exclude(status=DocumentStatus.VOID)
        numbers = ", ".join(taken.values_list("number", flat=True))
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
    _check_credit_total(document)
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
    accounts = system_accounts(
        SystemRole.RECEIVABLE, SystemRole.SALES_TAX, SystemRole.SALES_RETURNS
    )
    signed = signed_accumulator()  # debit positive
    customer_id = document.customer_id
    signed[(accounts[SystemRole.RECEIVABLE], customer_id)] += document.grand_total
    if document.is_money:
        # A payment: Dr Bank (or Card Clearing), Cr A/R. A refund: Dr A/R, Cr the same.
        cash_role = PaymentMethod.cash_account_role(document.method)
        cash = system_account(cash_role)
        holds_customer = cash_role == SystemRole.DEPOSITS
        signed[(cash, customer_id if holds_customer else None)] -= document.grand_total
        return legs_from_signed(signed, memo=f"{document.title} {document.number}")
    lines = document.lines.select_related("item__income_account", "item__credit_account")
    for line in lines:
        if document.kind == DocumentKind.CREDIT_MEMO:
            account = line.item.credit_account or accounts[SystemRole.SALES_RETURNS]
        else:
            account = line.item.income_account
        signed[(account, None)] -= line.extended_amount
        if line.tax_amount:
            signed[(accounts[SystemRole.SALES_TAX], None)] -= line.tax_amount
    return legs_from_signed(signed, memo=f"{document.title} {document.number}")


@transaction.atomic
def document_post(*, document: Document, by, key: str = "") -> Document:
    """Post a draft invoice, credit memo or payment: one balanced entry dated with the
    document's date; the document is locked from then on. Refunds are released instead.
    The returned document carries `post_notes`: what posting set in motion could not do
    in full (a planned invoice paid meanwhile)."""
    require(by, Action.POST)
    return run_once(
        key=key, scope="document_post", by=by, work=lambda: _document_post(document, by)
    )


def _document_post(document, by) -> Document:
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
        action=f"{document.get_kind_display().lower()} {'released' if document.kind == DocumentKind.REFUND else 'posted'}",
        target=document,
        target_ref=document.number,
        amount=document.grand_total,
        journal_entry=entry.pk,
    )
    return document


def void_undo_list(document: Document) -> list[str]:
    """What "Unapply all and void" would undo first, in words (the confirmation lists it)."""
    undo = []
    for app in Application.objects.filter(
        Q(invoice=document) | Q(credit=document), removed_at__isnull=True
    ).select_related("invoice", "credit"):
        other = app.credit if app.invoice_id == document.pk else app.invoice
        undo.append(f"Unapply {app.amount:,.2f} with {other.number}")
    for app in document.deposit_applications.filter(removed_at__isnull=True).select_related(
        "deposit"
    ):
        undo.append(f"Unapply {app.amount:,.2f} of deposit {app.deposit.number}")
    return undo


@transaction.atomic
def document_void(
    *,
    document: Document,
    by,
    date: datetime.date | None = None,
    unapply_all: bool = False,
    key: str = "",
) -> Document:
    """Void a posted document: the exact reverse of its entry, dated `date` (default today).
    Refused while anything is applied, reserved or pending against it; with `unapply_all`
    its applications (those made by hand and by earmarks) and deposit applications are
    removed first, in the same transaction."""
    require(by, Action.VOID)
    check_business_date(date, what="The void date")
    return run_once(
        key=key,
        scope="document_void",
        by=by,
        work=lambda: _document_void(document, by, date, unapply_all),
    )


def _document_void(document, by, date, unapply_all) -> Document:
    date = date or timezone.localdate()
    apps = list(
        Application.objects.filter(
            Q(invoice=document) | Q(credit=document),
            removed_at__isnull=True,
            origin__in=[ApplicationOrigin.MANUAL, ApplicationOrigin.EARMARK],
        )
    )
    deposit_apps = list(document.deposit_applications.filter(removed_at__isnull=True))
    ids = [document.pk, *(a.invoice_id for a in apps), *(a.credit_id for a in apps)]
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
    if date < document.date:
        raise ValidationError(
            {"date": "The void date can't be before the document's date."}, code="void_before_date"
        )
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
def document_cancel_draft(*, document: Document, by, key: str = "") -> Document:
    """Void a draft that was never posted. Nothing reached the ledger, so nothing is
    reversed; the number stays used so the sequence has no gaps."""
    require(by, Action.EDIT_DRAFTS)
    return run_once(
        key=key, scope="document_cancel", by=by, work=lambda: _document_cancel(document, by)
    )


def _document_cancel(document, by) -> Document:
    document = _lock(document)
    if document.status == DocumentStatus.POSTED and not document.is_money:
        raise PostedDocumentLocked()
    enforce(by, Act.CANCEL, document)
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


# --- what services accept: exact amounts and quantities ------------------------------------


def clean_line_inputs(lines) -> list[LineInput]:
    """Lines as a service accepts them, whoever calls: quantities with at most 4 decimal
    places, prices and adjustments with at most 2, exact decimals in ASCII digits (never
    floats); ValidationError naming the line otherwise."""
    cleaned = []
    for position, line in enumerate(lines, start=1):
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


def clean_allocations(allocations) -> list[Allocation]:
    """Allocation amounts as a service accepts them: exact, at most 2 decimal places
    (the sign and the limits are the allocator's to check). Blank amounts are dropped."""
    return [
        replace(a, amount=clean_amount(a.amount, field=f"amount_{a.document.pk}", positive=False))
        for a in allocations
        if a.amount is not None
    ]


# --- credit memos made from an invoice (Spectra's Method 1) -----------------------------


def _credit_lines_from_invoice(
    invoice: Document, quantities: dict[int, Decimal], *, exclude_memo: Document | None
) -> list[LineInput]:
    """Turn {invoice line id: positive quantity to credit} into negative memo lines,
    refusing more than each line has left to credit over all the invoice's memos."""
    from invoicing.selectors import creditable_lines

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
            src = row.line
            # The memo that takes the last of the line gets exactly what remains of its
            # amount and tax; any other never more than remains (cents never leak).
            amounts = credit_line_amounts(
                quantity=quantity,
                unit_price=src.unit_price,
                unit_adjustment=src.unit_adjustment,
                tax_rate=src.tax_rate,
                remaining_extended=row.remaining_extended,
                remaining_tax=row.remaining_tax,
                takes_last=quantity == row.remaining,
            )
            lines.append(
                LineInput(
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
            )
    if errors:
        raise OverCredit({f"qty_{k}": [v] for k, v in errors.items()}, code="over_credit")
    if not lines:
        raise InvoicingError("Choose at least one line and a quantity to credit.", code="no_lines")
    return lines


def _lock_invoice_for_credit(invoice: Document) -> Document:
    # Every memo of an invoice locks the invoice row first, so two reps crediting the same
    # invoice at once queue here and the second sees the first one's quantities.
    invoice = _lock(invoice)
    if invoice.kind != DocumentKind.INVOICE or invoice.is_credit:
        raise InvoicingError("Credit memos are made from invoices.", code="not_invoice")
    if invoice.status == DocumentStatus.VOID:
        raise InvoicingError(f"{invoice.number} is void; it can't be credited.", code="void")
    return invoice


@transaction.atomic
def credit_memo_create_from_invoice(
    *,
    invoice: Document,
    quantities: dict[int, Decimal],
    reason: str,
    by,
    date: datetime.date | None = None,
    note: str = "",
    description: str = "",
    key: str = "",
) -> Document:
    require(by, Action.EDIT_DRAFTS)
    check_business_date(date, what="The credit memo date")
    return run_once(
        key=key,
        scope="credit_memo_create",
        by=by,
        work=lambda: _credit_memo_from_invoice(
            invoice, quantities, reason, by, date, note, description
        ),
    )


def _credit_memo_from_invoice(invoice, quantities, reason, by, date, note, description):
    invoice = _lock_invoice_for_credit(invoice)
    enforce(by, Act.CREDIT_MEMO, invoice)
    lines = _credit_lines_from_invoice(invoice, quantities, exclude_memo=None)
    return _document_create(
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
    date: datetime.date | None = None,
    note: str = "",
    description: str = "",
    expected_version: int | None = None,
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


# --- applying credits (Apply Credit) --------------------------------------------------------


def _lock_in_order(ids) -> dict[int, Document]:
    """Lock documents in ascending id order in one statement, so two users locking
    overlapping sets queue instead of deadlocking; callers read balances only from the
    rows returned."""
    docs = Document.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return {doc.pk: doc for doc in docs}


def _lock_deposits(ids) -> dict[int, Deposit]:
    """Deposits are locked after documents (one fixed order), ascending, in one statement."""
    rows = Deposit.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return {d.pk: d for d in rows}


def _new_batch(by, key: str = "") -> ApplicationBatch:
    return ApplicationBatch.objects.create(key=key or uuid.uuid4().hex, created_by=by)


def _batch_applications(application: Application | None) -> list[Application]:
    if application is None:
        return []
    return list(Application.objects.filter(batch_id=application.batch_id).order_by("pk"))


@transaction.atomic
def credit_apply(
    *,
    source: Document,
    allocations: list[Allocation],
    by,
    date: datetime.date | None = None,
    key: str = "",
) -> list[Application]:
    """Apply one open item to others of the opposite sign, all rows in one transaction.

    `source` may be the credit (allocations go to invoices) or the invoice (allocations come
    from credits). Each allocation may not exceed what the other document can use, and
    together they may not exceed what the source can. `key` makes a re-sent form apply once.
    """
    require(by, Action.APPLY_CREDIT)
    allocations = clean_allocations(allocations)
    check_business_date(date, what="The application date")
    return run_once(
        key=key,
        scope="credit_apply",
        by=by,
        work=lambda: _credit_apply(source, allocations, by, date, key),
        store=lambda applications: applications[0] if applications else None,
        load=_batch_applications,
    )


def _credit_apply(source, allocations, by, date, key) -> list[Application]:
    date = date or timezone.localdate()
    allocations = [a for a in allocations if a.amount]
    if not allocations:
        raise InvoicingError(
            "Enter an amount to apply on at least one row.", code="nothing_to_apply"
        )
    docs = _lock_in_order([source.pk, *(a.document.pk for a in allocations)])
    source = docs[source.pk]
    enforce(by, Act.APPLY, source)
    check_business_date(date)
    allocations = [replace(a, document=docs[a.document.pk]) for a in allocations]
    return _apply_locked(
        source=source, allocations=allocations, by=by, date=date, batch=_new_batch(by, key)
    )


def _apply_locked(
    *,
    source: Document,
    allocations: list[Allocation],
    by,
    date: datetime.date,
    origin: str = ApplicationOrigin.MANUAL,
    batch: ApplicationBatch | None = None,
) -> list[Application]:
    """Check and write applications between documents the caller has locked."""
    errors = allocator.check(
        allocations=allocations,
        available=allocator.usable(source),
        source_label=source.number,
        customer_id=source.customer_id,
        targets_are_invoices=source.balance_due < 0,
        date=date,
        system=origin != ApplicationOrigin.MANUAL,
    )
    if any(a.document.pk == source.pk for a in allocations):
        errors["__all__"] = [f"{source.number} can't be applied to itself."]
    if date < source.date:
        errors["date"] = [
            f"The application date can't be before {source.number}'s date ({source.date:%m/%d/%Y})."
        ]
    if errors:
        raise OverApplication(errors, code="over_application")
    applications = []
    for allocation in allocations:
        other = allocation.document
        invoice, credit = (source, other) if source.balance_due > 0 else (other, source)
        applications.append(
            Application(
                customer_id=source.customer_id,
                invoice=invoice,
                credit=credit,
                amount=allocation.amount,
                date=date,
                origin=origin,
                batch=batch,
                created_by=by,
            )
        )
    for application in applications:
        application.invoice.balance_due -= application.amount
        application.credit.balance_due += application.amount
    Application.objects.bulk_create(applications)
    touched = {source.pk: source, **{a.document.pk: a.document for a in allocations}}
    Document.objects.bulk_update(list(touched.values()), ["balance_due"])
    audit_log(
        by=by,
        action="credit applied",
        target=source,
        target_ref=source.number,
        amount=sum((a.amount for a in allocations), ZERO),
        date=date.isoformat(),
        origin=origin,
        to={a.document.number: str(a.amount) for a in allocations},
    )
    return applications


@transaction.atomic
def credit_unapply(
    *, application: Application, by, date: datetime.date | None = None, key: str = ""
) -> Application:
    """Remove an application a person made: both open amounts are restored; the row stays
    as history. Applications the system made are undone by reversing what made them."""
    require(by, Action.APPLY_CREDIT)
    return run_once(
        key=key,
        scope="credit_unapply",
        by=by,
        work=lambda: _credit_unapply(application, by, date),
    )


def _credit_unapply(application, by, date, *, system: bool = False) -> Application:
    date = date or timezone.localdate()
    docs = _lock_in_order([application.invoice_id, application.credit_id])
    application = Application.objects.select_for_update().get(pk=application.pk)
    if not system:
        enforce(by, Act.UNAPPLY, application)
    elif not application.is_active:
        raise InvoicingError("That application was already removed.", code="already_removed")
    check_business_date(date, what="The removal date")
    if date < application.date:
        raise InvoicingError(
            "The removal can't be dated before the application.", code="before_application"
        )
    invoice, credit = docs[application.invoice_id], docs[application.credit_id]
    invoice.balance_due += application.amount
    credit.balance_due -= application.amount
    Document.objects.bulk_update([invoice, credit], ["balance_due"])
    application.removed_on = date
    application.removed_by = by
    application.removed_at = timezone.now()
    application.save(update_fields=["removed_on", "removed_by", "removed_at"])
    audit_log(
        by=by,
        action="credit unapplied",
        target=credit,
        target_ref=credit.number,
        amount=application.amount,
        invoice=invoice.number,
        application=application.pk,
    )
    return application


# --- payments --------------------------------------------------------------------------------


def _money_document(
    *, kind, customer, date, amount, method, reference, memo, by, **extra
) -> Document:
    """A payment (negative: the customer's credit until applied) or a refund (positive:
    it pays a credit back), numbered like every document and audited."""
    sign = -1 if kind == DocumentKind.PAYMENT else 1
    document = Document.objects.create(
        kind=kind,
        number=_next_number(kind),
        customer=customer,
        date=date,
        billing_terms=customer.billing_terms,
        due_date=date,
        description=memo
        or f"{DocumentKind(kind).label} by {PaymentMethod(method).label}"
        + (f" #{reference}" if reference else ""),
        method=method,
        reference=reference,
        subtotal=sign * amount,
        grand_total=sign * amount,
        created_by=by,
        updated_by=by,
        **extra,
    )
    audit_log(
        by=by,
        action=f"{document.get_kind_display().lower()} {'recorded' if sign < 0 else 'prepared'}",
        target=document,
        target_ref=document.number,
        amount=amount,
        method=method,
        reference=reference,
    )
    return document


@transaction.atomic
def payment_record(
    *,
    customer: Customer,
    date: datetime.date,
    method: str,
    amount: Decimal,
    by,
    reference: str = "",
    memo: str = "",
    allocations: list[Allocation] = (),
    earmarked_for: Document | None = None,
    key: str = "",
) -> Document:
    """Record a customer payment (a draft until a Poster posts it). `allocations` say which
    open invoices it pays, applied at posting; the rest stays as the customer's credit.
    `earmarked_for` is a draft invoice the payment was taken on (Spectra's Method 2)."""
    require(by, Action.EDIT_DRAFTS)
    amount = clean_amount(amount)
    allocations = clean_allocations(allocations)
    check_business_date(date, what="The payment date")
    return run_once(
        key=key,
        scope="payment_record",
        by=by,
        work=lambda: _payment_record(
            customer=customer,
            date=date,
            method=method,
            amount=amount,
            by=by,
            reference=reference,
            memo=memo,
            allocations=list(allocations),
            earmarked_for=earmarked_for,
        ),
    )


def _payment_record(
    *, customer, date, method, amount, by, reference, memo, allocations, earmarked_for
) -> Document:
    if method not in dict(PaymentMethod.for_payments()):
        raise ValidationError({"method": "Choose how the payment was made."})
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    allocations = [a for a in allocations if a.amount]
    if allocations:
        # Planned allocations are checked now and again (fitted) when the payment posts.
        current = {
            d.pk: d for d in Document.objects.filter(pk__in=[a.document.pk for a in allocations])
        }
        allocations = [replace(a, document=current[a.document.pk]) for a in allocations]
    errors = allocator.check(
        allocations=allocations,
        available=amount,
        source_label="this payment",
        customer_id=customer.pk,
        targets_are_invoices=True,
    )
    if errors.get("__all__"):
        errors["__all__"] = [
            f"That's {sum((a.amount for a in allocations), ZERO):,.2f} allocated, "
            f"more than the {amount:,.2f} received."
        ]
    if earmarked_for is not None:
        earmarked_for = Document.objects.select_for_update().get(pk=earmarked_for.pk)
        if (
            earmarked_for.customer_id != customer.pk
            or not earmarked_for.is_draft
            or earmarked_for.kind != DocumentKind.INVOICE
        ):
            errors["__all__"] = [
                "A payment can be earmarked only for a draft invoice of the same customer."
            ]
    if errors:
        raise OverApplication(errors, code="bad_allocation")
    payment = _money_document(
        kind=DocumentKind.PAYMENT,
        customer=customer,
        date=date,
        amount=amount,
        method=method,
        reference=reference,
        memo=memo,
        by=by,
        earmarked_for=earmarked_for,
    )
    PlannedApplication.objects.bulk_create(
        PlannedApplication(payment=payment, invoice=a.document, amount=a.amount)
        for a in allocations
    )
    return payment


@transaction.atomic
def payment_on_document(*, document: Document, amount: Decimal, by, key: str = "", **fields):
    """Spectra's "Payment or Refund" → Payment on an invoice: on a posted invoice it pays
    up to the Balance Due (any excess stays as the customer's credit); on a draft it is
    earmarked, and applied when the invoice is posted."""
    require(by, Action.EDIT_DRAFTS)
    amount = clean_amount(amount)
    check_business_date(fields.get("date"), what="The payment date")
    return run_once(
        key=key,
        scope="payment_record",
        by=by,
        work=lambda: _payment_on_document(document, amount, by, fields),
    )


def _payment_on_document(document, amount, by, fields) -> Document:
    document = _lock(document)
    enforce(by, Act.PAYMENT, document)
    target = {"earmarked_for": document, "allocations": []}
    if document.is_posted:
        paid = min(amount, document.balance_due) if amount else amount
        target = {
            "earmarked_for": None,
            "allocations": [Allocation(document=document, amount=paid)],
        }
    return _payment_record(
        customer=document.customer,
        amount=amount,
        by=by,
        reference=fields.get("reference", ""),
        memo=fields.get("memo", ""),
        date=fields["date"],
        method=fields["method"],
        **target,
    )


def _posting_lock_set(document: Document) -> list[int]:
    """Every document posting `document` may touch: a payment's planned invoices and the
    invoice it was taken on; an invoice's earmarked payments."""
    ids = [document.pk]
    if document.kind == DocumentKind.PAYMENT:
        ids += list(document.planned_applications.values_list("invoice_id", flat=True))
        if document.earmarked_for_id:
            ids.append(document.earmarked_for_id)
    elif document.kind == DocumentKind.INVOICE:
        ids += list(
            document.earmarked_payments.filter(kind=DocumentKind.PAYMENT).values_list(
                "pk", flat=True
            )
        )
    return ids


def _after_post(document: Document, docs: dict[int, Document], by) -> list[str]:
    """What posting sets in motion, on rows already locked: a payment's planned allocations
    (what still fits) and its earmark; an invoice's earmarked payments. Returns notes for
    the person posting."""
    notes: list[str] = []
    if document.kind == DocumentKind.PAYMENT:
        planned = [
            Allocation(document=docs[p.invoice_id], amount=p.amount)
            for p in document.planned_applications.all()
        ]
        fitted, notes = allocator.fit(planned, allocator.usable(document))
        date = max([document.date, *(a.document.date for a in fitted)])
        if fitted:
            _apply_locked(
                source=document, allocations=fitted, by=by, date=date, batch=_new_batch(by)
            )
        if document.earmarked_for_id:
            _apply_earmark(docs[document.earmarked_for_id], document, by)
    elif document.kind == DocumentKind.INVOICE:
        for pk in sorted(docs):
            payment = docs[pk]
            if payment.kind == DocumentKind.PAYMENT and payment.earmarked_for_id == document.pk:
                _apply_earmark(document, payment, by)
    return notes


def _apply_earmark(invoice: Document, payment: Document, by) -> None:
    """Apply what is left of an earmarked payment to its (now posted) invoice."""
    if not (payment.is_posted and invoice.is_posted):
        return
    amount = min(allocator.usable(payment), allocator.usable(invoice))
    if amount > 0:
        _apply_locked(
            source=invoice,
            allocations=[Allocation(document=payment, amount=amount)],
            date=max(invoice.date, payment.date),
            origin=ApplicationOrigin.EARMARK,
            by=by,
            batch=_new_batch(by),
        )


# --- refunds: money out only through a Poster ------------------------------------------------


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


def refund_methods(*, store_credit: bool = False) -> list[tuple[str, str]]:
    methods = [PaymentMethod.CHECK, PaymentMethod.EFT, PaymentMethod.CARD, PaymentMethod.CASH]
    if store_credit:
        methods.append(PaymentMethod.STORE_CREDIT)
    return [(m.value, m.label) for m in methods]


@transaction.atomic
def refund_prepare(
    *,
    document: Document,
    amount: Decimal,
    method: str,
    date: datetime.date,
    by,
    reference: str = "",
    memo: str = "",
    key: str = "",
) -> Document:
    """Prepare a refund (status Pending) from a negative open item. It reserves that much of
    the credit, so nothing else can use it until a Poster releases or cancels the refund."""
    require(by, Action.EDIT_DRAFTS)
    amount = clean_amount(amount)
    check_business_date(date, what="The refund date")
    return run_once(
        key=key,
        scope="refund_prepare",
        by=by,
        work=lambda: _refund_prepare(document, amount, method, date, by, reference, memo),
    )


def _refund_prepare(document, amount, method, date, by, reference, memo) -> Document:
    credit, _ = refund_source(document)
    if credit is None:
        raise InvoicingError(f"{document.number} has no open credit to refund.", code="no_credit")
    docs = _lock_in_order({document.pk, credit.pk})  # two refunds of one credit queue here
    document, credit = docs[document.pk], docs[credit.pk]
    enforce(by, Act.REFUND, document)
    available = credit.usable
    if document.is_draft:
        available = min(available, -document.display_balance)
    if method not in dict(refund_methods(store_credit=True)):
        raise ValidationError({"method": "Choose a Refund Method."})
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if amount > available:
        raise ValidationError(
            {"amount": f"That's more than the open credit of {available:,.2f}."}, code="over_refund"
        )
    if date < credit.date:
        raise ValidationError({"date": f"The refund can't be dated before {credit.number}."})
    credit.reserved += amount
    credit.save(update_fields=["reserved", "updated_at"])
    return _money_document(
        kind=DocumentKind.REFUND,
        customer=credit.customer,
        date=date,
        amount=amount,
        method=method,
        reference=reference,
        memo=memo,
        by=by,
        refund_of=credit,
        earmarked_for=document if document.is_draft else None,
    )


def _lock_refund(refund: Document) -> tuple[Document, Document]:
    """Lock a refund and the credit it draws on (one statement, ascending ids)."""
    refund_of_id = Document.objects.filter(pk=refund.pk).values_list("refund_of_id", flat=True)
    docs = _lock_in_order([refund.pk, *[pk for pk in refund_of_id if pk]])
    refund = docs[refund.pk]
    return refund, docs.get(refund.refund_of_id)


@transaction.atomic
def refund_release(
    *, refund: Document, by, date: datetime.date | None = None, key: str = ""
) -> Document:
    """Release a pending refund: money goes out. Posts Dr A/R, Cr Bank or Credit Card
    Clearing, and pays the credit back by the refund's amount."""
    require(by, Action.RELEASE_REFUND)
    check_business_date(date, what="The release date")
    return run_once(
        key=key, scope="refund_release", by=by, work=lambda: _refund_release(refund, by, date)
    )


def _refund_release(refund, by, date) -> Document:
    refund, credit = _lock_refund(refund)
    enforce(by, Act.RELEASE, refund)
    date = date or timezone.localdate()
    if date < credit.date:
        raise ValidationError({"date": f"The refund can't be dated before {credit.number}."})
    check_business_date(date)
    credit.reserved -= refund.amount
    credit.save(update_fields=["reserved", "updated_at"])
    refund.date = date
    refund.due_date = date
    refund.save(update_fields=["date", "due_date"])
    refund = _post(refund, by)
    _apply_locked(
        source=credit,
        allocations=[Allocation(document=refund, amount=refund.amount)],
        date=date,
        origin=ApplicationOrigin.REFUND,
        by=by,
        batch=_new_batch(by),
    )
    if refund.method == PaymentMethod.STORE_CREDIT:
        _store_credit_deposit(refund, by)
    refund.refresh_from_db()
    return refund


@transaction.atomic
def refund_cancel(*, refund: Document, by, key: str = "") -> Document:
    """Cancel a pending refund (its preparer or a Poster), freeing the credit it reserved."""
    return run_once(key=key, scope="refund_cancel", by=by, work=lambda: _refund_cancel(refund, by))


def _refund_cancel(refund, by) -> Document:
    refund, credit = _lock_refund(refund)
    enforce(by, Act.CANCEL_REFUND, refund)
    credit.reserved -= refund.amount
    credit.save(update_fields=["reserved", "updated_at"])
    refund.status = DocumentStatus.VOID
    refund.voided_by = by
    refund.voided_at = timezone.now()
    refund.void_date = timezone.localdate()
    refund.updated_by = by
    refund.save()
    audit_log(
        by=by,
        action="refund cancelled",
        target=refund,
        target_ref=refund.number,
        amount=refund.amount,
    )
    return refund


def refund_reversal_legs(refund: Document) -> list[Leg]:
    """The entry reversing a released refund writes (the preview shows it)."""
    if refund.posting_entry_id is None:
        return []
    return [
        Leg(
            account=line.account,
            debit=line.credit,
            credit=line.debit,
            customer_id=line.customer_id,
            memo=line.memo,
        )
        for line in refund.posting_entry.lines.select_related("account")
    ]


@transaction.atomic
def refund_reverse(
    *, refund: Document, by, date: datetime.date | None = None, key: str = ""
) -> Document:
    """Reverse a released refund (Poster): the exact reverse of its entry, the credit it
    paid back is open again, and a store-credit deposit it created is withdrawn — refused
    if that deposit was already used."""
    require(by, Action.RELEASE_REFUND)
    return run_once(
        key=key, scope="refund_reverse", by=by, work=lambda: _refund_reverse(refund, by, date)
    )


def _refund_reverse(refund, by, date) -> Document:
    refund, credit = _lock_refund(refund)
    deposits = _lock_deposits(
        Deposit.objects.filter(source_refund=refund).values_list("pk", flat=True)
    )
    enforce(by, Act.REVERSE_REFUND, refund)
    date = date or timezone.localdate()
    if date < refund.date:
        raise ValidationError({"date": "The reversal can't be dated before the refund."})
    check_business_date(date)
    for application in Application.objects.filter(
        invoice=refund, origin=ApplicationOrigin.REFUND, removed_at__isnull=True
    ):
        _credit_unapply(application, by, date, system=True)
    refund.refresh_from_db()
    reversal = journal_entry_reverse(
        entry=refund.posting_entry, date=date, by=by, memo=f"Reversal of refund {refund.number}"
    )
    for deposit in deposits.values():
        deposit.status = DocumentStatus.VOID
        deposit.remaining = ZERO
        deposit.save(update_fields=["status", "remaining"])
    refund.status = DocumentStatus.VOID
    refund.voided_by = by
    refund.voided_at = timezone.now()
    refund.void_date = date
    refund.void_entry = reversal
    refund.balance_due = ZERO
    refund.updated_by = by
    refund.save()
    audit_log(
        by=by,
        action="refund reversed",
        target=refund,
        target_ref=refund.number,
        amount=refund.amount,
        credit=credit.number if credit else "",
        journal_entry=reversal.pk,
    )
    return refund


# --- customer deposits ------------------------------------------------------------------------


def _accounts(*roles: str) -> dict[str, Account]:
    """{role: account} of system roles (ledger.models.SystemRole)."""
    return system_accounts(*roles)


@transaction.atomic
def deposit_record(
    *,
    customer: Customer,
    date: datetime.date,
    method: str,
    amount: Decimal,
    by,
    reference: str = "",
    memo: str = "",
    key: str = "",
) -> Deposit:
    """Record a Customer Deposit (a draft until a Poster posts it)."""
    require(by, Action.EDIT_DRAFTS)
    amount = clean_amount(amount)
    check_business_date(date, what="The deposit date")
    return run_once(
        key=key,
        scope="deposit_record",
        by=by,
        work=lambda: _deposit_record(customer, date, method, amount, by, reference, memo),
    )


def _deposit_record(customer, date, method, amount, by, reference, memo) -> Deposit:
    if method not in dict(PaymentMethod.for_payments()):
        raise ValidationError({"method": "Choose how the deposit was paid."})
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    deposit = Deposit.objects.create(
        number=_next_number(DocumentKind.DEPOSIT),
        customer=customer,
        date=date,
        method=method,
        reference=reference,
        amount=amount,
        memo=memo,
        created_by=by,
    )
    audit_log(
        by=by, action="deposit recorded", target=deposit, target_ref=deposit.number, amount=amount
    )
    return deposit


def _lock_deposit(deposit: Deposit) -> Deposit:
    return _lock_deposits([deposit.pk])[deposit.pk]


def deposit_posting_legs(deposit: Deposit) -> list[Leg]:
    cash_role = PaymentMethod.cash_account_role(deposit.method)
    accounts = _accounts(cash_role, SystemRole.DEPOSITS)
    memo = f"Customer Deposit {deposit.number}"
    return [
        Leg(
            account=accounts[cash_role],
            debit=deposit.amount,
            memo=memo,
        ),
        Leg(
            account=accounts[SystemRole.DEPOSITS],
            credit=deposit.amount,
            customer_id=deposit.customer_id,
            memo=memo,
        ),
    ]


@transaction.atomic
def deposit_post(*, deposit: Deposit, by, key: str = "") -> Deposit:
    """Post a deposit: Dr Bank or Credit Card Clearing, Cr Customer Deposits."""
    require(by, Action.POST)
    return run_once(key=key, scope="deposit_post", by=by, work=lambda: _deposit_post(deposit, by))


def _deposit_post(deposit, by) -> Deposit:
    deposit = _lock_deposit(deposit)
    enforce(by, Act.POST, deposit)
    entry = journal_entry_post(
        date=deposit.date,
        memo=f"Customer Deposit {deposit.number} — {deposit.customer.name}",
        legs=deposit_posting_legs(deposit),
        by=by,
        source=deposit,
        source_ref=deposit.number,
    )
    deposit.status = DocumentStatus.POSTED
    deposit.posting_entry = entry
    deposit.posted_by = by
    deposit.posted_at = timezone.now()
    deposit.remaining = deposit.amount
    deposit.save()
    audit_log(
        by=by,
        action="deposit posted",
        target=deposit,
        target_ref=deposit.number,
        amount=deposit.amount,
    )
    return deposit


@transaction.atomic
def deposit_cancel(*, deposit: Deposit, by, key: str = "") -> Deposit:
    """Cancel a draft deposit; nothing reached the ledger, the number stays used."""
    require(by, Action.EDIT_DRAFTS)
    return run_once(
        key=key, scope="deposit_cancel", by=by, work=lambda: _deposit_cancel(deposit, by)
    )


def _deposit_cancel(deposit, by) -> Deposit:
    deposit = _lock_deposit(deposit)
    enforce(by, Act.CANCEL, deposit)
    deposit.status = DocumentStatus.VOID
    deposit.voided_by = by
    deposit.voided_at = timezone.now()
    deposit.save(update_fields=["status", "voided_by", "voided_at"])
    audit_log(
        by=by,
        action="deposit draft cancelled",
        target=deposit,
        target_ref=deposit.number,
        amount=deposit.amount,
    )
    return deposit


@transaction.atomic
def deposit_void(
    *, deposit: Deposit, by, date: datetime.date | None = None, key: str = ""
) -> Deposit:
    """Void a posted deposit nothing has used: the exact reverse of its entry."""
    require(by, Action.VOID)
    return run_once(
        key=key, scope="deposit_void", by=by, work=lambda: _deposit_void(deposit, by, date)
    )


def _deposit_void(deposit, by, date) -> Deposit:
    deposit = _lock_deposit(deposit)
    enforce(by, Act.VOID, deposit)
    date = date or timezone.localdate()
    if date < deposit.date:
        raise ValidationError({"date": "The void date can't be before the deposit's date."})
    reversal = journal_entry_reverse(
        entry=deposit.posting_entry, date=date, by=by, memo=f"Void of deposit {deposit.number}"
    )
    deposit.status = DocumentStatus.VOID
    deposit.remaining = ZERO
    deposit.void_entry = reversal
    deposit.voided_by = by
    deposit.voided_at = timezone.now()
    deposit.save(update_fields=["status", "remaining", "void_entry", "voided_by", "voided_at"])
    audit_log(
        by=by,
        action="deposit voided",
        target=deposit,
        target_ref=deposit.number,
        amount=deposit.amount,
        journal_entry=reversal.pk,
    )
    return deposit


def _deposit_transfer_legs(deposit: Deposit, amount: Decimal, memo: str) -> list[Leg]:
    """Dr Customer Deposits, Cr A/R: the deposit pays part of an invoice."""
    accounts = _accounts(SystemRole.DEPOSITS, SystemRole.RECEIVABLE)
    return [
        Leg(
            account=accounts[SystemRole.DEPOSITS],
            debit=amount,
            customer_id=deposit.customer_id,
            memo=memo,
        ),
        Leg(
            account=accounts[SystemRole.RECEIVABLE],
            credit=amount,
            customer_id=deposit.customer_id,
            memo=memo,
        ),
    ]


@transaction.atomic
def deposit_apply(
    *,
    deposit: Deposit,
    invoice: Document,
    amount: Decimal,
    by,
    date: datetime.date | None = None,
    key: str = "",
) -> DepositApplication:
    """Apply Deposit: the deposit appears as a payment on the invoice; the entry
    Dr Customer Deposits, Cr A/R is written at once."""
    require(by, Action.APPLY_CREDIT)
    amount = clean_amount(amount)
    check_business_date(date, what="The application date")
    return run_once(
        key=key,
        scope="deposit_apply",
        by=by,
        work=lambda: _deposit_apply(deposit, invoice, amount, by, date),
    )


def _deposit_apply(deposit, invoice, amount, by, date) -> DepositApplication:
    date = date or timezone.localdate()
    invoice = _lock_in_order([invoice.pk])[invoice.pk]  # documents before deposits
    deposit = _lock_deposit(deposit)
    enforce(by, Act.APPLY_DEPOSIT, invoice)
    errors = {}
    if deposit.customer_id != invoice.customer_id:
        errors["deposit"] = [f"{deposit.number} belongs to another customer."]
    else:
        decision = decide(by, Act.APPLY_DEPOSIT, deposit)
        if not decision:
            errors["deposit"] = [decision.reason]
    if not errors:
        errors = allocator.check(
            allocations=[Allocation(document=invoice, amount=amount)],
            available=allocator.usable(deposit),
            source_label=deposit.number,
            customer_id=deposit.customer_id,
            targets_are_invoices=True,
        )
        errors = {("amount" if k.startswith("amount_") else k): v for k, v in errors.items()}
        if "__all__" in errors:
            errors["amount"] = [
                f"More than what is left on {deposit.number} ({deposit.usable:,.2f})."
            ]
            del errors["__all__"]
    if not errors and date < max(deposit.date, invoice.date):
        errors["date"] = ["The date can't be before the deposit's or the invoice's date."]
    if errors:
        raise OverApplication(errors, code="over_application")
    entry = journal_entry_post(
        date=date,
        memo=f"Deposit {deposit.number} applied to {invoice.number}",
        legs=_deposit_transfer_legs(
            deposit, amount, f"Deposit {deposit.number} → {invoice.number}"
        ),
        by=by,
        source=deposit,
        source_ref=deposit.number,
    )
    application = DepositApplication.objects.create(
        deposit=deposit, invoice=invoice, amount=amount, date=date, entry=entry, created_by=by
    )
    deposit.remaining -= amount
    deposit.save(update_fields=["remaining"])
    invoice.balance_due -= amount
    invoice.save(update_fields=["balance_due", "updated_at"])
    audit_log(
        by=by,
        action="deposit applied",
        target=invoice,
        target_ref=invoice.number,
        amount=amount,
        deposit=deposit.number,
    )
    return application


@transaction.atomic
def deposit_unapply(
    *, application: DepositApplication, by, date: datetime.date | None = None, key: str = ""
) -> DepositApplication:
    """Remove a deposit application: the reversing entry, both amounts restored."""
    require(by, Action.APPLY_CREDIT)
    return run_once(
        key=key,
        scope="deposit_unapply",
        by=by,
        work=lambda: _deposit_unapply(application, by, date),
    )


def _deposit_unapply(application, by, date, *, system: bool = False) -> DepositApplication:
    date = date or timezone.localdate()
    invoice = _lock_in_order([application.invoice_id])[application.invoice_id]
    deposit = _lock_deposit(application.deposit)
    application = DepositApplication.objects.select_for_update().get(pk=application.pk)
    if not system:
        enforce(by, Act.UNAPPLY, application)
    check_business_date(date, what="The removal date")
    if date < application.date:
        raise InvoicingError(
            "The removal can't be dated before the application.", code="before_application"
        )
    reversal = journal_entry_reverse(
        entry=application.entry,
        date=date,
        by=by,
        memo=f"Deposit {deposit.number} removed from {invoice.number}",
    )
    application.removed_on = date
    application.removed_by = by
    application.removed_at = timezone.now()
    application.removal_entry = reversal
    application.save()
    deposit.remaining += application.amount
    deposit.save(update_fields=["remaining"])
    invoice.balance_due += application.amount
    invoice.save(update_fields=["balance_due", "updated_at"])
    audit_log(
        by=by,
        action="deposit unapplied",
        target=invoice,
        target_ref=invoice.number,
        amount=application.amount,
    )
    return application


@transaction.atomic
def deposit_refund_prepare(
    *,
    deposit: Deposit,
    amount: Decimal,
    method: str,
    date: datetime.date,
    by,
    reference: str = "",
    memo: str = "",
    key: str = "",
) -> DepositRefund:
    """Refund This Deposit: a pending refund holding that much of the deposit."""
    require(by, Action.EDIT_DRAFTS)
    amount = clean_amount(amount)
    check_business_date(date, what="The refund date")
    return run_once(
        key=key,
        scope="deposit_refund_prepare",
        by=by,
        work=lambda: _deposit_refund_prepare(deposit, amount, method, date, by, reference, memo),
    )


def _deposit_refund_prepare(deposit, amount, method, date, by, reference, memo) -> DepositRefund:
    deposit = _lock_deposit(deposit)
    enforce(by, Act.REFUND, deposit)
    if method not in dict(refund_methods()):
        raise ValidationError({"method": "Choose a Refund Method."})
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if amount > deposit.usable:
        raise ValidationError(
            {"amount": f"That's more than the {deposit.usable:,.2f} left on {deposit.number}."}
        )
    if date < deposit.date:
        raise ValidationError({"date": f"The refund can't be dated before {deposit.number}."})
    deposit.reserved += amount
    deposit.save(update_fields=["reserved"])
    refund = DepositRefund.objects.create(
        deposit=deposit,
        amount=amount,
        method=method,
        reference=reference,
        memo=memo,
        date=date,
        created_by=by,
    )
    audit_log(
        by=by,
        action="deposit refund prepared",
        target=deposit,
        target_ref=deposit.number,
        amount=amount,
    )
    return refund


def _lock_deposit_refund(refund: DepositRefund) -> tuple[DepositRefund, Deposit]:
    deposit_id = DepositRefund.objects.filter(pk=refund.pk).values_list("deposit_id", flat=True)
    deposit = _lock_deposits(deposit_id)
    refund = DepositRefund.objects.select_for_update().select_related("deposit").get(pk=refund.pk)
    return refund, deposit[refund.deposit_id]


@transaction.atomic
def deposit_refund_release(
    *, refund: DepositRefund, by, date: datetime.date | None = None, key: str = ""
) -> DepositRefund:
    """Release a deposit refund: Dr Customer Deposits, Cr Bank or Credit Card Clearing."""
    require(by, Action.RELEASE_REFUND)
    return run_once(
        key=key,
        scope="deposit_refund_release",
        by=by,
        work=lambda: _deposit_refund_release(refund, by, date),
    )


def _deposit_refund_release(refund, by, date) -> DepositRefund:
    refund, deposit = _lock_deposit_refund(refund)
    enforce(by, Act.RELEASE, refund)
    date = date or timezone.localdate()
    if date < deposit.date:
        raise ValidationError({"date": f"The refund can't be dated before {deposit.number}."})
    cash_role = PaymentMethod.cash_account_role(refund.method)
    accounts = _accounts(cash_role, SystemRole.DEPOSITS)
    memo = f"Refund of deposit {deposit.number}"
    refund.entry = journal_entry_post(
        date=date,
        memo=f"{memo} — {deposit.customer.name}",
        legs=[
            Leg(
                account=accounts[SystemRole.DEPOSITS],
                debit=refund.amount,
                customer_id=deposit.customer_id,
                memo=memo,
            ),
            Leg(account=accounts[cash_role], credit=refund.amount, memo=memo),
        ],
        by=by,
        source=deposit,
        source_ref=deposit.number,
    )
    refund.status = DocumentStatus.POSTED
    refund.date = date
    refund.released_by = by
    refund.released_at = timezone.now()
    refund.save()
    deposit.reserved -= refund.amount
    deposit.remaining -= refund.amount
    deposit.save(update_fields=["reserved", "remaining"])
    audit_log(
        by=by,
        action="deposit refund released",
        target=deposit,
        target_ref=deposit.number,
        amount=refund.amount,
    )
    return refund


@transaction.atomic
def deposit_refund_cancel(*, refund: DepositRefund, by, key: str = "") -> DepositRefund:
    """Cancel a pending deposit refund (its preparer or a Poster); the deposit is free again."""
    return run_once(
        key=key,
        scope="deposit_refund_cancel",
        by=by,
        work=lambda: _deposit_refund_cancel(refund, by),
    )


def _deposit_refund_cancel(refund, by) -> DepositRefund:
    refund, deposit = _lock_deposit_refund(refund)
    enforce(by, Act.CANCEL_REFUND, refund)
    refund.status = DocumentStatus.VOID
    refund.cancelled_by = by
    refund.cancelled_at = timezone.now()
    refund.save(update_fields=["status", "cancelled_by", "cancelled_at"])
    deposit.reserved -= refund.amount
    deposit.save(update_fields=["reserved"])
    audit_log(
        by=by,
        action="deposit refund cancelled",
        target=deposit,
        target_ref=deposit.number,
        amount=refund.amount,
    )
    return refund


@transaction.atomic
def deposit_refund_reverse(
    *, refund: DepositRefund, by, date: datetime.date | None = None, key: str = ""
) -> DepositRefund:
    """Reverse a released deposit refund (Poster): the exact reverse of its entry; the
    deposit holds the amount again."""
    require(by, Action.RELEASE_REFUND)
    return run_once(
        key=key,
        scope="deposit_refund_reverse",
        by=by,
        work=lambda: _deposit_refund_reverse(refund, by, date),
    )


def _deposit_refund_reverse(refund, by, date) -> DepositRefund:
    refund, deposit = _lock_deposit_refund(refund)
    enforce(by, Act.REVERSE_REFUND, refund)
    date = date or timezone.localdate()
    if date < refund.date:
        raise ValidationError({"date": "The reversal can't be dated before the refund."})
    reversal = journal_entry_reverse(
        entry=refund.entry, date=date, by=by, memo=f"Reversal of refund of {deposit.number}"
    )
    refund.status = DocumentStatus.VOID
    refund.reversal_entry = reversal
    refund.reversed_by = by
    refund.reversed_at = timezone.now()
    refund.save(update_fields=["status", "reversal_entry", "reversed_by", "reversed_at"])
    deposit.remaining += refund.amount
    deposit.save(update_fields=["remaining"])
    audit_log(
        by=by,
        action="deposit refund reversed",
        target=deposit,
        target_ref=deposit.number,
        amount=refund.amount,
        journal_entry=reversal.pk,
    )
    return refund


def _store_credit_deposit(refund: Document, by) -> Deposit:
    """A released store-credit refund becomes a deposit the customer can use next time;
    the refund's own entry already credited Customer Deposits."""
    deposit = Deposit.objects.create(
        number=_next_number(DocumentKind.DEPOSIT),
        customer=refund.customer,
        date=refund.date,
        method=PaymentMethod.STORE_CREDIT,
        reference=refund.number,
        amount=refund.amount,
        memo=f"Store credit from {refund.refund_of.title} {refund.refund_of.number}",
        status=DocumentStatus.POSTED,
        remaining=refund.amount,
        source_refund=refund,
        posted_by=by,
        posted_at=timezone.now(),
        created_by=by,
    )
    audit_log(
        by=by,
        action="store credit issued",
        target=deposit,
        target_ref=deposit.number,
        amount=refund.amount,
    )
    return deposit
