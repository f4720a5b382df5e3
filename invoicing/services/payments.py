"""Customer payments: recording one (with the invoices it is planned to pay, or the draft
invoice it was taken on), and the earmark step posting sets in motion — applying a
payment's planned allocations and earmarks. Posting (documents) calls this step; nothing
here calls posting."""

from dataclasses import replace
from decimal import Decimal

from config.roles import Action
from customers.models import Customer
from invoicing import allocator
from invoicing.allocator import Allocation
from invoicing.exceptions import OverApplication
from invoicing.models import ApplicationOrigin, Document, DocumentKind, PlannedApplication
from invoicing.policies import Act, enforce
from invoicing.services.applications import _apply_locked
from invoicing.services.base import (
    AMOUNT,
    _lock,
    _money_document,
    check_money_in,
    clean_allocations,
    money,
    service,
)
from ledger.money import ZERO

PAYMENT_RECORD = "payment_record"
ALLOCATIONS = {"allocations": clean_allocations}


@service(PAYMENT_RECORD, Action.EDIT_DRAFTS, "The payment date", clean=AMOUNT | ALLOCATIONS)
def payment_record(
    *,
    customer: Customer,
    by,
    allocations: list[Allocation] = (),
    earmarked_for: Document | None = None,
    **details,
) -> Document:
    """Record a customer payment (a draft until a Poster posts it); `details` are the
    money's (`money()`: date, method, amount, reference, memo). `allocations` say which
    open invoices it pays, applied at posting; the rest stays as the customer's credit.
    `earmarked_for` is a draft invoice the payment was taken on (Spectra's Method 2)."""
    details = money(**details)
    amount = details["amount"]
    check_money_in(details["method"], amount, what="payment was made")
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
        earmarked_for = _lock(earmarked_for)
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
        by=by,
        earmarked_for=earmarked_for,
        **details,
    )
    PlannedApplication.objects.bulk_create(
        PlannedApplication(payment=payment, invoice=a.document, amount=a.amount)
        for a in allocations
    )
    return payment


@service(PAYMENT_RECORD, Action.EDIT_DRAFTS, "The payment date", clean=AMOUNT)
def payment_on_document(*, document: Document, amount: Decimal, by, **fields) -> Document:
    """Spectra's "Payment or Refund" → Payment on an invoice: on a posted invoice it pays
    up to the Balance Due (any excess stays as the customer's credit); on a draft it is
    earmarked, and applied when the invoice is posted."""
    document = _lock(document)
    enforce(by, Act.PAYMENT, document)
    target = {"earmarked_for": document, "allocations": []}
    if document.is_posted:
        paid = min(amount, document.balance_due) if amount else amount
        target = {
            "earmarked_for": None,
            "allocations": [Allocation(document=document, amount=paid)],
        }
    return payment_record.work(
        customer=document.customer, by=by, **money(amount=amount, **fields), **target
    )


# --- the earmark step: what posting a payment or an invoice sets in motion --------------------


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
            _apply_locked(source=document, allocations=fitted, by=by, date=date)
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
        )
