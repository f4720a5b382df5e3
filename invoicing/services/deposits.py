"""Customer deposits: record, post, cancel a draft, void, apply to an invoice (Dr Customer
Deposits, Cr A/R at once), unapply, and the store-credit deposit a refund creates.
Refunds of deposits are invoicing.services.refunds'."""

import datetime
from decimal import Decimal

from django.utils import timezone

from config.roles import Action
from customers.models import Customer
from invoicing import allocator
from invoicing.allocator import Allocation
from invoicing.exceptions import OverApplication
from invoicing.models import (
    Deposit,
    DepositApplication,
    Document,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.policies import Act, decide, enforce
from invoicing.services.base import (
    AMOUNT,
    _lock_deposit,
    _lock_in_order,
    _new_deposit,
    audit,
    check_money_in,
    check_removal,
    date_not_before,
    mark_removed,
    money,
    post_entry,
    service,
    transfer_legs,
)
from ledger.models import SystemRole
from ledger.money import ZERO
from ledger.services import AuditAction, Leg, journal_entry_post, journal_entry_reverse


@service("deposit_record", Action.EDIT_DRAFTS, "The deposit date", clean=AMOUNT)
def deposit_record(
    *, customer: Customer, date: datetime.date, method: str, amount: Decimal, by, **details
) -> Deposit:
    """Record a Customer Deposit (a draft until a Poster posts it); `details`: reference
    and memo."""
    check_money_in(method, amount, what="deposit was paid")
    deposit = _new_deposit(
        customer=customer,
        created_by=by,
        **money(amount=amount, method=method, date=date, **details),
    )
    audit(by, AuditAction.DEPOSIT_RECORDED, deposit, amount)
    return deposit


def deposit_posting_legs(deposit: Deposit) -> list[Leg]:
    """Dr Bank or Credit Card Clearing, Cr Customer Deposits."""
    cash_role = PaymentMethod.cash_account_role(deposit.method)
    return transfer_legs(
        cash_role,
        SystemRole.DEPOSITS,
        deposit.amount,
        customer_id=deposit.customer_id,
        memo=f"Customer Deposit {deposit.number}",
    )


@service("deposit_post", needs=Action.POST)
def deposit_post(*, deposit: Deposit, by) -> Deposit:
    """Post a deposit: Dr Bank or Credit Card Clearing, Cr Customer Deposits."""
    deposit = _lock_deposit(deposit)
    enforce(by, Act.POST, deposit)
    post_entry(
        deposit,
        by,
        memo=f"Customer Deposit {deposit.number} — {deposit.customer.name}",
        legs=deposit_posting_legs(deposit),
        remaining=deposit.amount,
    )
    audit(by, AuditAction.DEPOSIT_POSTED, deposit, deposit.amount)
    return deposit


def _mark_deposit_void(deposit: Deposit, by, **fields) -> None:
    fields.update(status=DocumentStatus.VOID, voided_by=by, voided_at=timezone.now())
    for name, value in fields.items():
        setattr(deposit, name, value)
    deposit.save(update_fields=list(fields))


@service("deposit_cancel", needs=Action.EDIT_DRAFTS)
def deposit_cancel(*, deposit: Deposit, by) -> Deposit:
    """Cancel a draft deposit; nothing reached the ledger, the number stays used."""
    deposit = _lock_deposit(deposit)
    enforce(by, Act.CANCEL, deposit)
    _mark_deposit_void(deposit, by)
    audit(by, AuditAction.DEPOSIT_DRAFT_CANCELLED, deposit, deposit.amount)
    return deposit


@service("deposit_void", needs=Action.VOID)
def deposit_void(*, deposit: Deposit, by, date: datetime.date | None = None) -> Deposit:
    """Void a posted deposit nothing has used: the exact reverse of its entry."""
    deposit = _lock_deposit(deposit)
    enforce(by, Act.VOID, deposit)
    message = "The void date can't be before the deposit's date."
    date = date_not_before(date, deposit.date, message)
    reversal = journal_entry_reverse(
        entry=deposit.posting_entry, date=date, by=by, memo=f"Void of deposit {deposit.number}"
    )
    _mark_deposit_void(deposit, by, remaining=ZERO, void_entry=reversal)
    audit(by, AuditAction.DEPOSIT_VOIDED, deposit, deposit.amount, journal_entry=reversal.pk)
    return deposit


def _deposit_transfer_legs(deposit: Deposit, amount: Decimal, memo: str) -> list[Leg]:
    """Dr Customer Deposits, Cr A/R: the deposit pays part of an invoice."""
    return transfer_legs(
        SystemRole.DEPOSITS,
        SystemRole.RECEIVABLE,
        amount,
        customer_id=deposit.customer_id,
        memo=memo,
    )


@service("deposit_apply", Action.APPLY_CREDIT, "The application date", clean=AMOUNT)
def deposit_apply(
    *,
    deposit: Deposit,
    invoice: Document,
    amount: Decimal,
    by,
    date: datetime.date | None = None,
) -> DepositApplication:
    """Apply Deposit: the deposit appears as a payment on the invoice; the entry
    Dr Customer Deposits, Cr A/R is written at once."""
    date = date or timezone.localdate()
    invoice = _lock_in_order([invoice.pk])[invoice.pk]  # documents before deposits
    deposit = _lock_deposit(deposit)
    enforce(by, Act.APPLY_DEPOSIT, invoice)
    errors = _deposit_apply_errors(deposit, invoice, amount, by)
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
    _move(deposit, invoice, -amount)
    audit(by, AuditAction.DEPOSIT_APPLIED, invoice, amount, deposit=deposit.number)
    return application


def _deposit_apply_errors(deposit, invoice, amount, by) -> dict[str, list[str]]:
    if deposit.customer_id != invoice.customer_id:
        return {"deposit": [f"{deposit.number} belongs to another customer."]}
    decision = decide(by, Act.APPLY_DEPOSIT, deposit)
    if not decision:
        return {"deposit": [decision.reason]}
    errors = allocator.check(
        allocations=[Allocation(document=invoice, amount=amount)],
        available=allocator.usable(deposit),
        source_label=deposit.number,
        customer_id=deposit.customer_id,
        targets_are_invoices=True,
    )
    errors = {("amount" if k.startswith("amount_") else k): v for k, v in errors.items()}
    if "__all__" in errors:
        errors["amount"] = [f"More than what is left on {deposit.number} ({deposit.usable:,.2f})."]
        del errors["__all__"]
    return errors


def _move(deposit: Deposit, invoice: Document, amount: Decimal) -> None:
    """Change what is left on the deposit and open on the invoice by `amount`."""
    deposit.remaining += amount
    deposit.save(update_fields=["remaining"])
    invoice.balance_due += amount
    invoice.save(update_fields=["balance_due", "updated_at"])


@service("deposit_unapply", needs=Action.APPLY_CREDIT)
def deposit_unapply(*, application: DepositApplication, by, date: datetime.date | None = None):
    """Remove a deposit application: the reversing entry, both amounts restored."""
    return _deposit_unapply(application, by, date)


def _deposit_unapply(application, by, date, *, system: bool = False) -> DepositApplication:
    date = date or timezone.localdate()
    invoice = _lock_in_order([application.invoice_id])[application.invoice_id]
    deposit = _lock_deposit(application.deposit)
    application = DepositApplication.objects.select_for_update().get(pk=application.pk)
    check_removal(application, by, date, system=system, act=Act.UNAPPLY)
    reversal = journal_entry_reverse(
        entry=application.entry,
        date=date,
        by=by,
        memo=f"Deposit {deposit.number} removed from {invoice.number}",
    )
    mark_removed(application, by, date, removal_entry=reversal)
    _move(deposit, invoice, application.amount)
    audit(by, AuditAction.DEPOSIT_UNAPPLIED, invoice, application.amount)
    return application


def _store_credit_deposit(refund: Document, by) -> Deposit:
    """A released store-credit refund becomes a deposit the customer can use next time;
    the refund's own entry already credited Customer Deposits."""
    credit = refund.refund_of
    details = money(amount=refund.amount, method=PaymentMethod.STORE_CREDIT, date=refund.date)
    details.update(
        reference=refund.number, memo=f"Store credit from {credit.title} {credit.number}"
    )
    deposit = _new_deposit(
        customer=refund.customer,
        **details,
        status=DocumentStatus.POSTED,
        remaining=refund.amount,
        source_refund=refund,
        posted_by=by,
        posted_at=timezone.now(),
        created_by=by,
    )
    audit(by, AuditAction.STORE_CREDIT_ISSUED, deposit, refund.amount)
    return deposit
