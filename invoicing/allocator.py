"""The one allocator: how an amount available on one side (a credit, a payment, a deposit,
an invoice's balance) is spread over open items of the other side.

Apply Credit, Record Payment, Apply Deposit, posting a payment with its planned
allocations and posting an invoice with payments earmarked for it all use it. It works
from what each item can still give or take (`usable`: open amount less what pending
refunds reserve), refuses a document named twice, and fills oldest first.
"""

from dataclasses import dataclass
from decimal import Decimal

from invoicing.models import DocumentKind, DocumentStatus
from ledger.money import CENT, ZERO


@dataclass(frozen=True)
class Allocation:
    """`amount` (positive) of the source's open amount goes to `document`."""

    document: object
    amount: Decimal


def usable(doc) -> Decimal:
    """What an open item can still take (invoice) or give (credit, deposit), positive."""
    return max(doc.usable, ZERO)


def fill_oldest_first(available: Decimal, documents) -> list[Allocation]:
    """Spread `available` over `documents` in the order given (oldest due first), each
    taking at most what it can use; what is left stays unallocated."""
    remaining = max(abs(available), ZERO)
    allocations = []
    for doc in documents:
        take = min(remaining, usable(doc))
        allocations.append(Allocation(document=doc, amount=take))
        remaining -= take
    return allocations


def check(
    *,
    allocations: list[Allocation],
    available: Decimal,
    source_label: str,
    customer_id: int,
    targets_are_invoices: bool,
    date=None,
    system: bool = False,
) -> dict[str, list[str]]:
    """Errors of a set of allocations, keyed by form field (`amount_<pk>`, `__all__`).

    Each target must be a posted open item of the same customer on the other side, named
    once, given a positive amount in cents no larger than it can use; together they may
    not exceed `available`. `system` lets a refund be a target (a release pays it)."""
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    total = ZERO
    for allocation in allocations:
        doc, amount = allocation.document, allocation.amount
        field = f"amount_{doc.pk}"
        if doc.pk in seen:
            errors[field] = [f"{doc.number} is named twice; enter one amount for it."]
            continue
        seen.add(doc.pk)
        if amount is None or amount <= 0:
            errors[field] = ["Enter a positive amount."]
            continue
        if amount != amount.quantize(CENT):
            errors[field] = ["Use at most 2 decimal places."]
            continue
        total += amount
        if doc.status != DocumentStatus.POSTED:
            state = "void" if doc.status == DocumentStatus.VOID else "not posted"
            errors[field] = [f"{doc.number} is {state}; only posted documents can be applied."]
        elif doc.customer_id != customer_id:
            errors[field] = [f"{doc.number} belongs to another customer."]
        elif doc.kind == DocumentKind.REFUND and not system:
            errors[field] = [f"{doc.number} is a refund; refunds are paid by releasing them."]
        elif (doc.balance_due > 0) != targets_are_invoices or doc.balance_due == 0:
            side = "balance" if targets_are_invoices else "credit"
            errors[field] = [f"{doc.number} has no open {side} to pair."]
        elif amount > usable(doc):
            errors[field] = [f"More than {doc.number}'s open {usable(doc):,.2f}."]
        elif date is not None and date < doc.date:
            errors[field] = [f"The application date is before {doc.number}'s date."]
    if not errors and total > available:
        errors["__all__"] = [
            f"Together that's {total:,.2f}, more than the {available:,.2f} open on {source_label}."
        ]
    return errors


def fit(allocations: list[Allocation], available: Decimal) -> tuple[list[Allocation], list[str]]:
    """What of planned allocations still fits now (each target's usable amount, the
    source's `available`), with a note for each that was cut or dropped."""
    fitted, notes = [], []
    remaining = max(available, ZERO)
    seen: set[int] = set()
    for allocation in allocations:
        doc = allocation.document
        if doc.pk in seen:
            continue
        seen.add(doc.pk)
        room = usable(doc) if doc.status == DocumentStatus.POSTED else ZERO
        take = min(allocation.amount, room, remaining)
        if take > 0:
            fitted.append(Allocation(document=doc, amount=take))
            remaining -= take
        if take < allocation.amount:
            notes.append(
                f"{doc.number} could take only {take:,.2f} of the {allocation.amount:,.2f} "
                "planned; the rest stays as the customer's credit."
            )
    return fitted, notes
