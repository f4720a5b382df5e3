"""Writes to A/R documents: create and edit drafts, post, void.

Each public function is one state change in one transaction, checks who may do it, locks
what it changes, and writes an audit event.
"""

import datetime
from dataclasses import dataclass, replace
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from config.roles import Action, require
from customers.models import BillingTerms, Customer
from invoicing.exceptions import (
    POSTED_LOCKED_MESSAGE,
    InvoicingError,
    OverApplication,
    OverCredit,
    PostedDocumentLocked,
)
from invoicing.models import (
    Application,
    ApplicationBatch,
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
        if line.quantity * (line.unit_price - (line.unit_adjustment or ZERO)) > 0:
            line = replace(line, quantity=-line.quantity)
        normalized.append(line)
    return normalized


def _check_credit_total(document: Document) -> None:
    if document.kind == DocumentKind.CREDIT_MEMO and document.grand_total >= 0:
        raise InvoicingError("A credit memo needs a total below zero.", code="credit_not_negative")


def _live_credit_memos(invoice: Document):
    return invoice.credit_memos.exclude(status=DocumentStatus.VOID)


def _refuse_if_credited(invoice: Document, doing: str) -> None:
    numbers = list(_live_credit_memos(invoice).values_list("number", flat=True))
    if numbers:
        raise InvoicingError(
            f"{invoice.number} has credit memos ({', '.join(numbers)}); "
            f"void or cancel them before you {doing} it.",
            code="has_credit_memos",
        )


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
) -> Document:
    """Replace a draft's header and lines (Spectra's Method 2 works on drafts only)."""
    require(by, Action.EDIT_DRAFTS)
    document = _lock(document)
    if not document.is_draft:
        raise PostedDocumentLocked(locked_message(document))
    _check_lines(lines)
    _refuse_if_credited(document, "change")
    if document.kind == DocumentKind.CREDIT_MEMO:
        lines = _as_credit_lines(lines)
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
    accounts = {
        a.code: a
        for a in Account.objects.filter(
            code__in=[Account.RECEIVABLE, Account.SALES_TAX, Account.SALES_RETURNS]
        )
    }
    signed = signed_accumulator()  # debit positive
    customer_id = document.customer_id
    signed[(accounts[Account.RECEIVABLE], customer_id)] += document.grand_total
    if document.is_money:
        # A payment: Dr Bank (or Card Clearing), Cr A/R. A refund: Dr A/R, Cr the same.
        cash = Account.objects.get(code=PaymentMethod.cash_account_code(document.method))
        holds_customer = cash.code == Account.DEPOSITS
        signed[(cash, customer_id if holds_customer else None)] -= document.grand_total
        return legs_from_signed(signed, memo=f"{document.title} {document.number}")
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
    """Post a draft invoice, credit memo or payment: one balanced entry dated with the
    document's date; the document is locked from then on. Refunds are released instead."""
    require(by, Action.POST)
    document = _lock(document)
    if document.kind == DocumentKind.REFUND:
        raise InvoicingError("Refunds are released, not posted.", code="refund")
    if document.status != DocumentStatus.DRAFT:
        raise InvoicingError(
            f"{document.number} is already {document.get_status_display().lower()}.",
            code="not_draft",
        )
    if not document.is_money and not document.lines.exists():
        raise InvoicingError("A document needs at least one line to be posted.", code="no_lines")
    document = _post(document, by)
    _after_post(document, by)
    document.refresh_from_db()
    return document


def _post(document: Document, by) -> Document:
    """Write the posting entry of a locked draft and mark it posted."""
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
        action=f"{document.get_kind_display().lower()} {'released' if document.kind == DocumentKind.REFUND else 'posted'}",
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
    _refuse_if_credited(document, "void")
    applied = Application.objects.filter(
        Q(invoice=document) | Q(credit=document), removed_at__isnull=True
    ).exists()
    applied = applied or document.deposit_applications.filter(removed_at__isnull=True).exists()
    if applied or document.balance_due != document.grand_total:
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
    _refuse_if_credited(document, "cancel")
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
) -> Document:
    require(by, Action.EDIT_DRAFTS)
    invoice = _lock_invoice_for_credit(invoice)
    lines = _credit_lines_from_invoice(invoice, quantities, exclude_memo=None)
    return document_create(
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
) -> Document:
    require(by, Action.EDIT_DRAFTS)
    invoice = _lock_invoice_for_credit(memo.source_invoice)
    memo = _lock(memo)
    if not memo.is_draft:
        raise PostedDocumentLocked(locked_message(memo))
    lines = _credit_lines_from_invoice(invoice, quantities, exclude_memo=memo)
    return document_update_draft(
        document=memo,
        date=date,
        description=description or memo.description,
        reason=reason,
        note=note,
        lines=lines,
        by=by,
    )


# --- applying credits (Apply Credit) --------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """`amount` (positive) of the source's open amount goes to `document`."""

    document: Document
    amount: Decimal


def _lock_in_order(ids) -> dict[int, Document]:
    """Lock documents in ascending id order, so two users locking overlapping sets queue
    instead of deadlocking."""
    docs = Document.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
    return {doc.pk: doc for doc in docs}


def _check_pairable(doc: Document, customer_id: int) -> None:
    if doc.status != DocumentStatus.POSTED:
        state = "void" if doc.status == DocumentStatus.VOID else "not posted"
        raise InvoicingError(
            f"{doc.number} is {state}; only posted documents can be applied.", code="not_posted"
        )
    if doc.customer_id != customer_id:
        raise InvoicingError(f"{doc.number} belongs to another customer.", code="other_customer")


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
    from credits). Each allocation may not exceed the other document's open amount, and
    together they may not exceed the source's. `key` makes a re-sent form apply once.
    """
    require(by, Action.APPLY_CREDIT)
    date = date or timezone.localdate()
    allocations = [a for a in allocations if a.amount]
    if not allocations:
        raise InvoicingError(
            "Enter an amount to apply on at least one row.", code="nothing_to_apply"
        )
    if key:
        existing = ApplicationBatch.objects.filter(key=key).first()
        if existing is not None:
            return list(existing.applications.all())
    ensure_period_open(date)
    docs = _lock_in_order([source.pk, *(a.document.pk for a in allocations)])
    source = docs[source.pk]
    _check_pairable(source, source.customer_id)
    source_sign = 1 if source.balance_due > 0 else -1 if source.balance_due < 0 else 0
    if source_sign == 0 or source.usable <= 0:
        raise InvoicingError(f"{source.number} has nothing left to apply.", code="nothing_open")
    errors: dict[str, list[str]] = {}
    total = ZERO
    for allocation in allocations:
        other = docs[allocation.document.pk]
        field = f"amount_{other.pk}"
        _check_pairable(other, source.customer_id)
        if allocation.amount < 0:
            errors[field] = ["Enter a positive amount."]
        elif allocation.amount != allocation.amount.quantize(Decimal("0.01")):
            errors[field] = ["Use at most 2 decimal places."]
        elif (other.balance_due > 0) == (source_sign > 0) or other.balance_due == 0:
            errors[field] = [
                f"{other.number} has no open {'credit' if source_sign > 0 else 'balance'} to pair."
            ]
        elif allocation.amount > other.usable:
            errors[field] = [f"More than {other.number}'s open {other.usable:,.2f}."]
        elif date < other.date:
            errors[field] = [f"The application date is before {other.number}'s date."]
        total += allocation.amount
    if date < source.date:
        errors["date"] = [
            f"The application date can't be before {source.number}'s date ({source.date:%m/%d/%Y})."
        ]
    if total > source.usable and not errors:
        errors["__all__"] = [
            f"Together that's {total:,.2f}, more than the {source.usable:,.2f} open on {source.number}."
        ]
    if errors:
        raise OverApplication(errors, code="over_application")

    batch = None
    if key:
        try:
            with transaction.atomic():
                batch = ApplicationBatch.objects.create(key=key, created_by=by)
        except IntegrityError:
            # The same form is being applied by a concurrent request; it wins.
            return list(ApplicationBatch.objects.get(key=key).applications.all())
    applications = []
    for allocation in allocations:
        other = docs[allocation.document.pk]
        invoice, credit = (source, other) if source_sign > 0 else (other, source)
        invoice.balance_due -= allocation.amount
        credit.balance_due += allocation.amount
        applications.append(
            Application(
                customer_id=source.customer_id,
                invoice=invoice,
                credit=credit,
                amount=allocation.amount,
                date=date,
                batch=batch,
                created_by=by,
            )
        )
    Application.objects.bulk_create(applications)
    Document.objects.bulk_update(docs.values(), ["balance_due"])
    audit_log(
        by=by,
        action="credit applied",
        target=source,
        target_ref=source.number,
        amount=total,
        date=date.isoformat(),
        to={docs[a.document.pk].number: str(a.amount) for a in allocations},
    )
    return applications


@transaction.atomic
def credit_unapply(
    *, application: Application, by, date: datetime.date | None = None
) -> Application:
    """Remove an application: both open amounts are restored; the row stays as history."""
    require(by, Action.APPLY_CREDIT)
    date = date or timezone.localdate()
    docs = _lock_in_order([application.invoice_id, application.credit_id])
    application = Application.objects.select_for_update().get(pk=application.pk)
    if not application.is_active:
        raise InvoicingError("That application was already removed.", code="already_removed")
    ensure_period_open(date)
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


def allocate_oldest_first(available: Decimal, open_amounts: list[Decimal]) -> list[Decimal]:
    """Spread `available` over open items in the order given (oldest due first), each
    taking at most its own open amount; what is left stays unallocated."""
    remaining = abs(available)
    amounts = []
    for open_amount in open_amounts:
        take = min(remaining, abs(open_amount))
        amounts.append(take)
        remaining -= take
    return amounts


# --- payments --------------------------------------------------------------------------------


def _existing_for_key(key: str) -> Document | None:
    return Document.objects.filter(idempotency_key=key).first() if key else None


def _money_document(
    *, kind, customer, date, amount, method, reference, memo, by, key, **extra
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
        idempotency_key=key or None,
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
    existing = _existing_for_key(key)
    if existing is not None:
        return existing
    if method not in dict(PaymentMethod.for_payments()):
        raise ValidationError({"method": "Choose how the payment was made."})
    if amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    errors = {}
    total = ZERO
    for allocation in allocations:
        inv = allocation.document
        if inv.customer_id != customer.pk or not inv.is_posted or inv.balance_due <= 0:
            errors[f"amount_{inv.pk}"] = [
                f"{inv.number} isn't an open posted invoice of {customer.name}."
            ]
        elif allocation.amount > inv.balance_due:
            errors[f"amount_{inv.pk}"] = [f"More than {inv.number}'s open {inv.balance_due:,.2f}."]
        total += allocation.amount
    if total > amount:
        errors["__all__"] = [
            f"That's {total:,.2f} allocated, more than the {amount:,.2f} received."
        ]
    if earmarked_for is not None and (
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
        key=key,
        earmarked_for=earmarked_for,
    )
    PlannedApplication.objects.bulk_create(
        PlannedApplication(payment=payment, invoice=a.document, amount=a.amount)
        for a in allocations
        if a.amount
    )
    return payment


def payment_on_document(*, document: Document, amount: Decimal, **fields) -> Document:
    """Spectra's "Payment or Refund" → Payment on an invoice: on a posted invoice it pays
    up to the Balance Due (any excess stays as the customer's credit); on a draft it is
    earmarked, and applied when the invoice is posted."""
    if document.is_posted:
        allocations = [Allocation(document=document, amount=min(amount, document.balance_due))]
        return payment_record(
            customer=document.customer, amount=amount, allocations=allocations, **fields
        )
    return payment_record(
        customer=document.customer, amount=amount, earmarked_for=document, **fields
    )


def _apply_earmarked(invoice: Document, payment: Document, by) -> None:
    """Apply what is left of an earmarked payment to its (now posted) invoice."""
    invoice.refresh_from_db()
    payment.refresh_from_db()
    amount = min(payment.usable, invoice.balance_due)
    if amount > 0 and payment.is_posted and invoice.is_posted:
        credit_apply(
            source=invoice,
            allocations=[Allocation(document=payment, amount=amount)],
            date=max(invoice.date, payment.date),
            by=by,
        )


def _after_post(document: Document, by) -> None:
    """What posting sets in motion: a payment's planned applications and earmark; an
    invoice's earmarked payments."""
    if document.kind == DocumentKind.PAYMENT:
        planned = list(document.planned_applications.select_related("invoice"))
        if planned:
            credit_apply(
                source=document,
                allocations=[Allocation(document=p.invoice, amount=p.amount) for p in planned],
                date=document.date,
                by=by,
            )
        if document.earmarked_for_id:
            _apply_earmarked(document.earmarked_for, document, by)
    elif document.kind == DocumentKind.INVOICE:
        for payment in document.earmarked_payments.filter(
            kind=DocumentKind.PAYMENT, status=DocumentStatus.POSTED
        ).order_by("pk"):
            _apply_earmarked(document, payment, by)


# --- refunds: money out only through a Poster ------------------------------------------------


def refund_source(document: Document) -> tuple[Document | None, Decimal]:
    """The credit a refund "from" `document` draws on, and how much it can refund.

    A posted credit (credit memo, unapplied payment) refunds its own open credit. A draft
    invoice lowered below what was paid on it (Method 2) refunds from its earmarked
    payment, up to the negative Balance Due it shows.
    """
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
    methods = [PaymentMethod.CHECK, PaymentMethod.EFT, PaymentMethod.CARD]
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
    existing = _existing_for_key(key)
    if existing is not None:
        return existing
    credit, _ = refund_source(document)
    if credit is None:
        raise InvoicingError(f"{document.number} has no open credit to refund.", code="no_credit")
    credit = _lock(credit)  # two refunds of one credit queue here
    available = credit.usable
    if document.is_draft:
        available = min(available, -document.display_balance)
    if method not in dict(refund_methods(store_credit=store_credit_available())):
        raise ValidationError({"method": "Choose a Refund Method."})
    if amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if amount > available:
        raise ValidationError(
            {"amount": f"That's more than the open credit of {available:,.2f}."}, code="over_refund"
        )
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
        key=key,
        refund_of=credit,
        earmarked_for=document if document.is_draft else None,
    )


def store_credit_available() -> bool:
    """Store Credit is held as a customer deposit, which the product now has."""
    return True


@transaction.atomic
def refund_release(*, refund: Document, by, date: datetime.date | None = None) -> Document:
    """Release a pending refund: money goes out. Posts Dr A/R, Cr Bank or Credit Card
    Clearing, and pays the credit back by the refund's amount."""
    require(by, Action.RELEASE_REFUND)
    docs = _lock_in_order([refund.pk, refund.refund_of_id])
    refund, credit = docs[refund.pk], docs[refund.refund_of_id]
    if refund.kind != DocumentKind.REFUND:
        raise InvoicingError(f"{refund.number} isn't a refund.", code="not_refund")
    if refund.status != DocumentStatus.DRAFT:
        raise InvoicingError(
            f"{refund.number} is already {refund.status_label.lower()}.", code="not_pending"
        )
    if settings.REFUND_FOUR_EYES and refund.created_by_id == by.pk:
        raise InvoicingError(
            "You prepared this refund; another Poster must release it (four eyes).",
            code="four_eyes",
        )
    date = date or timezone.localdate()
    if date < credit.date:
        raise ValidationError({"date": f"The refund can't be dated before {credit.number}."})
    ensure_period_open(date)
    credit.reserved -= refund.amount
    credit.save(update_fields=["reserved", "updated_at"])
    refund.date = date
    refund.due_date = date
    refund.save(update_fields=["date", "due_date"])
    refund = _post(refund, by)
    credit_apply(
        source=credit,
        allocations=[Allocation(document=refund, amount=refund.amount)],
        date=date,
        by=by,
    )
    if refund.method == PaymentMethod.STORE_CREDIT:
        _store_credit_deposit(refund, by)
    refund.refresh_from_db()
    return refund


@transaction.atomic
def refund_cancel(*, refund: Document, by) -> Document:
    """Cancel a pending refund, freeing the credit it reserved."""
    require(by, Action.RELEASE_REFUND)
    docs = _lock_in_order([refund.pk, refund.refund_of_id])
    refund, credit = docs[refund.pk], docs[refund.refund_of_id]
    if refund.kind != DocumentKind.REFUND or refund.status != DocumentStatus.DRAFT:
        raise InvoicingError(f"{refund.number} isn't a pending refund.", code="not_pending")
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


# --- customer deposits ------------------------------------------------------------------------


def _accounts(*codes: str) -> dict[str, Account]:
    return {a.code: a for a in Account.objects.filter(code__in=codes)}


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
    if key:
        existing = Deposit.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
    if method not in dict(PaymentMethod.for_payments()):
        raise ValidationError({"method": "Choose how the deposit was paid."})
    if amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    deposit = Deposit.objects.create(
        number=_next_number(DocumentKind.DEPOSIT),
        customer=customer,
        date=date,
        method=method,
        reference=reference,
        amount=amount,
        memo=memo,
        idempotency_key=key or None,
        created_by=by,
    )
    audit_log(
        by=by, action="deposit recorded", target=deposit, target_ref=deposit.number, amount=amount
    )
    return deposit


def _lock_deposit(deposit: Deposit) -> Deposit:
    return Deposit.objects.select_for_update().get(pk=deposit.pk)


def deposit_posting_legs(deposit: Deposit) -> list[Leg]:
    accounts = _accounts(PaymentMethod.cash_account_code(deposit.method), Account.DEPOSITS)
    memo = f"Customer Deposit {deposit.number}"
    return [
        Leg(
            account=accounts[PaymentMethod.cash_account_code(deposit.method)],
            debit=deposit.amount,
            memo=memo,
        ),
        Leg(
            account=accounts[Account.DEPOSITS],
            credit=deposit.amount,
            customer_id=deposit.customer_id,
            memo=memo,
        ),
    ]


@transaction.atomic
def deposit_post(*, deposit: Deposit, by) -> Deposit:
    """Post a deposit: Dr Bank or Credit Card Clearing, Cr Customer Deposits."""
    require(by, Action.POST)
    deposit = _lock_deposit(deposit)
    if deposit.status != DocumentStatus.DRAFT:
        raise InvoicingError(
            f"{deposit.number} is already {deposit.get_status_display().lower()}.", code="not_draft"
        )
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


def _deposit_transfer_legs(deposit: Deposit, amount: Decimal, memo: str) -> list[Leg]:
    """Dr Customer Deposits, Cr A/R: the deposit pays part of an invoice."""
    accounts = _accounts(Account.DEPOSITS, Account.RECEIVABLE)
    return [
        Leg(
            account=accounts[Account.DEPOSITS],
            debit=amount,
            customer_id=deposit.customer_id,
            memo=memo,
        ),
        Leg(
            account=accounts[Account.RECEIVABLE],
            credit=amount,
            customer_id=deposit.customer_id,
            memo=memo,
        ),
    ]


@transaction.atomic
def deposit_apply(
    *, deposit: Deposit, invoice: Document, amount: Decimal, by, date: datetime.date | None = None
) -> DepositApplication:
    """Apply Deposit: the deposit appears as a payment on the invoice; the entry
    Dr Customer Deposits, Cr A/R is written at once."""
    require(by, Action.APPLY_CREDIT)
    date = date or timezone.localdate()
    invoice = _lock(invoice)  # documents before deposits: one fixed order
    deposit = _lock_deposit(deposit)
    errors = {}
    if not deposit.is_posted:
        errors["deposit"] = [f"{deposit.number} isn't posted yet; a Poster posts it first."]
    elif deposit.customer_id != invoice.customer_id:
        errors["deposit"] = [f"{deposit.number} belongs to another customer."]
    if not invoice.is_posted or invoice.balance_due <= 0:
        errors["__all__"] = [f"{invoice.number} has no open balance to pay."]
    if amount is None or amount <= 0:
        errors["amount"] = ["Enter an amount above zero."]
    elif not errors:
        if amount > deposit.usable:
            errors["amount"] = [
                f"More than what is left on {deposit.number} ({deposit.usable:,.2f})."
            ]
        elif amount > invoice.balance_due:
            errors["amount"] = [
                f"More than {invoice.number}'s Balance Due ({invoice.balance_due:,.2f})."
            ]
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
    *, application: DepositApplication, by, date: datetime.date | None = None
) -> DepositApplication:
    """Remove a deposit application: the reversing entry, both amounts restored."""
    require(by, Action.APPLY_CREDIT)
    date = date or timezone.localdate()
    invoice = _lock(application.invoice)
    deposit = _lock_deposit(application.deposit)
    application = DepositApplication.objects.select_for_update().get(pk=application.pk)
    if not application.is_active:
        raise InvoicingError(
            "That deposit application was already removed.", code="already_removed"
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
    if key:
        existing = DepositRefund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
    deposit = _lock_deposit(deposit)
    if method not in dict(refund_methods()):
        raise ValidationError({"method": "Choose a Refund Method."})
    if not deposit.is_posted:
        raise InvoicingError(f"{deposit.number} isn't posted yet.", code="not_posted")
    if amount is None or amount <= 0:
        raise ValidationError({"amount": "Enter an amount above zero."})
    if amount > deposit.usable:
        raise ValidationError(
            {"amount": f"That's more than the {deposit.usable:,.2f} left on {deposit.number}."}
        )
    deposit.reserved += amount
    deposit.save(update_fields=["reserved"])
    refund = DepositRefund.objects.create(
        deposit=deposit,
        amount=amount,
        method=method,
        reference=reference,
        memo=memo,
        date=date,
        idempotency_key=key or None,
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


@transaction.atomic
def deposit_refund_release(
    *, refund: DepositRefund, by, date: datetime.date | None = None
) -> DepositRefund:
    """Release a deposit refund: Dr Customer Deposits, Cr Bank or Credit Card Clearing."""
    require(by, Action.RELEASE_REFUND)
    deposit = _lock_deposit(refund.deposit)
    refund = DepositRefund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != DocumentStatus.DRAFT:
        raise InvoicingError(
            f"That refund is already {refund.status_label.lower()}.", code="not_pending"
        )
    if settings.REFUND_FOUR_EYES and refund.created_by_id == by.pk:
        raise InvoicingError(
            "You prepared this refund; another Poster must release it (four eyes).",
            code="four_eyes",
        )
    date = date or timezone.localdate()
    cash_code = PaymentMethod.cash_account_code(refund.method)
    accounts = _accounts(cash_code, Account.DEPOSITS)
    memo = f"Refund of deposit {deposit.number}"
    refund.entry = journal_entry_post(
        date=date,
        memo=f"{memo} — {deposit.customer.name}",
        legs=[
            Leg(
                account=accounts[Account.DEPOSITS],
                debit=refund.amount,
                customer_id=deposit.customer_id,
                memo=memo,
            ),
            Leg(account=accounts[cash_code], credit=refund.amount, memo=memo),
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
def deposit_refund_cancel(*, refund: DepositRefund, by) -> DepositRefund:
    require(by, Action.RELEASE_REFUND)
    deposit = _lock_deposit(refund.deposit)
    refund = DepositRefund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != DocumentStatus.DRAFT:
        raise InvoicingError("Only a pending refund can be cancelled.", code="not_pending")
    refund.status = DocumentStatus.VOID
    refund.save(update_fields=["status"])
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
