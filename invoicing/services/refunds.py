"""Refunds: money out only through a Poster. One implementation for both things that can
be refunded — a credit (a negative open item; the refund is a Document of kind refund)
and a customer deposit (a DepositRefund). Prepare (reserve), release (post, pay back),
cancel (free the reserve) and reverse (the exact reverse entry) each run one code path;
`_Refunded` says what differs between the two.

About 400 lines on purpose: the two refundable things share every step, and splitting the
adapters from the steps would put one rule in two files."""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone

from config.roles import Action
from invoicing.allocator import Allocation
from invoicing.exceptions import InvoicingError
from invoicing.models import (
    Application,
    ApplicationOrigin,
    Deposit,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.policies import Act, enforce
from invoicing.selectors.open_items import refund_source
from invoicing.services.applications import _apply_locked, _credit_unapply
from invoicing.services.base import (
    AMOUNT,
    _lock_deposit,
    _lock_deposits,
    _lock_in_order,
    _money_document,
    audit,
    check_positive,
    date_not_before,
    mark_void,
    money,
    service,
    transfer_legs,
)
from invoicing.services.deposits import _store_credit_deposit
from invoicing.services.documents import _post
from ledger.models import SystemRole
from ledger.money import ZERO
from ledger.services import (
    AuditAction,
    Leg,
    check_business_date,
    journal_entry_post,
    journal_entry_reverse,
    reversal_legs,
)


def refund_methods(*, store_credit: bool = False) -> list[tuple[str, str]]:
    methods = [PaymentMethod.CHECK, PaymentMethod.EFT, PaymentMethod.CARD, PaymentMethod.CASH]
    if store_credit:
        methods.append(PaymentMethod.STORE_CREDIT)
    return [(m.value, m.label) for m in methods]


def refund_reversal_legs(refund: Document) -> list[Leg]:
    """The entry reversing a released refund writes (the preview shows it)."""
    if refund.posting_entry_id is None:
        return []
    return reversal_legs(refund.posting_entry)


# --- what differs between refunding a credit and refunding a deposit --------------------------


class _Refunded:
    """A thing refunds draw on (`source`): it reserves what pending refunds hold."""

    store_credit = False  # may refund into store credit
    over: str  # more than `available` of `source` asked for
    touch: tuple[str, ...] = ()  # saved with `reserved`
    cancelled: AuditAction
    reversed: AuditAction

    def lock(self, refund) -> tuple:
        """Lock a refund and its source, documents before deposits."""
        raise NotImplementedError

    def create(self, source, by, details: dict, **extra):
        """The pending refund of `details` (`money()`) drawing on `source`, audited."""
        raise NotImplementedError

    def release(self, refund, source, date, by):
        raise NotImplementedError

    def mark_cancelled(self, refund, by) -> None:
        raise NotImplementedError

    def hold(self, refund):
        """Lock what reversing `refund` changes besides it and its source (the policy reads
        it, so before the policy is asked); returned to `mark_reversed`."""

    def undo(self, refund, source, date, by):
        """What must go before the reversing entry."""

    def entry(self, refund):
        """The entry releasing `refund` wrote."""
        raise NotImplementedError

    def reversal_memo(self, refund, source) -> str:
        raise NotImplementedError

    def mark_reversed(self, refund, source, reversal, date, by, held) -> dict:
        """Stamp the refund reversed; returns the audit event's detail."""
        raise NotImplementedError

    @staticmethod
    def target(refund, source):
        """What the audit events name."""
        return source


class _Credit(_Refunded):
    store_credit = True
    over = "That's more than the open credit of {available:,.2f}."
    touch = ("updated_at",)
    cancelled = AuditAction.REFUND_CANCELLED
    reversed = AuditAction.REFUND_REVERSED

    def lock(self, refund):
        refund_of = Document.objects.filter(pk=refund.pk).values_list("refund_of_id", flat=True)
        docs = _lock_in_order([refund.pk, *[pk for pk in refund_of if pk]])
        refund = docs[refund.pk]
        return refund, docs.get(refund.refund_of_id)

    def create(self, credit, by, details, **extra):
        # `_money_document` audits "refund prepared".
        return _money_document(
            kind=DocumentKind.REFUND,
            customer=credit.customer,
            by=by,
            refund_of=credit,
            **details,
            **extra,
        )

    def release(self, refund, credit, date, by):
        refund.date = date
        refund.due_date = date
        refund.save(update_fields=["date", "due_date"])
        refund = _post(refund, by)  # audits "refund released"
        _apply_locked(
            source=credit,
            allocations=[Allocation(document=refund, amount=refund.amount)],
            date=date,
            origin=ApplicationOrigin.REFUND,
            by=by,
        )
        if refund.method == PaymentMethod.STORE_CREDIT:
            _store_credit_deposit(refund, by)
        refund.refresh_from_db()
        return refund

    def mark_cancelled(self, refund, by):
        mark_void(refund, by, timezone.localdate())

    def hold(self, refund):
        # A store-credit deposit the refund created: withdrawn with it, unless used.
        return _lock_deposits(
            Deposit.objects.filter(source_refund=refund).values_list("pk", flat=True)
        )

    def undo(self, refund, credit, date, by):
        for application in Application.objects.filter(
            target=refund, origin=ApplicationOrigin.REFUND, removed_at__isnull=True
        ):
            _credit_unapply(application, by, date, system=True)
        refund.refresh_from_db()

    def entry(self, refund):
        return refund.posting_entry

    def reversal_memo(self, refund, credit):
        return f"Reversal of refund {refund.number}"

    def mark_reversed(self, refund, credit, reversal, date, by, deposits):
        for deposit in deposits.values():  # a store-credit deposit is withdrawn
            deposit.status = DocumentStatus.VOID
            deposit.remaining = ZERO
            deposit.save(update_fields=["status", "remaining"])
        mark_void(refund, by, date, void_entry=reversal, balance_due=ZERO)
        return {"credit": credit.number if credit else ""}

    @staticmethod
    def target(refund, credit):
        return refund


class _Deposit(_Refunded):
    over = "That's more than the {available:,.2f} left on {source.number}."
    cancelled = AuditAction.DEPOSIT_REFUND_CANCELLED
    reversed = AuditAction.DEPOSIT_REFUND_REVERSED

    def lock(self, refund):
        deposit_id = DepositRefund.objects.filter(pk=refund.pk).values_list("deposit_id", flat=True)
        deposit = _lock_deposits(deposit_id)
        refund = (
            DepositRefund.objects.select_for_update().select_related("deposit").get(pk=refund.pk)
        )
        return refund, deposit[refund.deposit_id]

    def create(self, deposit, by, details):
        refund = DepositRefund.objects.create(deposit=deposit, created_by=by, **details)
        audit(by, AuditAction.DEPOSIT_REFUND_PREPARED, deposit, refund.amount)
        return refund

    def release(self, refund, deposit, date, by):
        memo = f"Refund of deposit {deposit.number}"
        refund.entry = journal_entry_post(
            date=date,
            memo=f"{memo} — {deposit.customer.name}",
            legs=transfer_legs(
                SystemRole.DEPOSITS,
                PaymentMethod.cash_account_role(refund.method),
                refund.amount,
                customer_id=deposit.customer_id,
                memo=memo,
            ),
            by=by,
            source=deposit,
            source_ref=deposit.number,
        )
        refund.status = DocumentStatus.POSTED
        refund.date = date
        refund.posted_by = by
        refund.posted_at = timezone.now()
        refund.save()
        deposit.remaining -= refund.amount
        deposit.save(update_fields=["remaining"])
        audit(by, AuditAction.DEPOSIT_REFUND_RELEASED, deposit, refund.amount)
        return refund

    def mark_cancelled(self, refund, by):
        refund.status = DocumentStatus.VOID
        refund.cancelled_by = by
        refund.cancelled_at = timezone.now()
        refund.save(update_fields=["status", "cancelled_by", "cancelled_at"])

    def entry(self, refund):
        return refund.entry

    def reversal_memo(self, refund, deposit):
        return f"Reversal of refund of {deposit.number}"

    def mark_reversed(self, refund, deposit, reversal, date, by, held):
        refund.status = DocumentStatus.VOID
        refund.reversal_entry = reversal
        refund.reversed_by = by
        refund.reversed_at = timezone.now()
        refund.save(update_fields=["status", "reversal_entry", "reversed_by", "reversed_at"])
        deposit.remaining += refund.amount
        deposit.save(update_fields=["remaining"])
        return {}


CREDIT, DEPOSIT = _Credit(), _Deposit()


# --- the one code path ------------------------------------------------------------------------


def _prepare(of: _Refunded, source, available: Decimal, by, details: dict, **extra):
    """Reserve part of a locked source for a pending refund of `details` (`money()`)."""
    if details["method"] not in dict(refund_methods(store_credit=of.store_credit)):
        raise ValidationError({"method": "Choose a Refund Method."})
    amount = details["amount"]
    check_positive(amount)
    if amount > available:
        message = of.over.format(available=available, source=source)
        raise ValidationError({"amount": ValidationError(message, code="over_refund")})
    message = f"The refund can't be dated before {source.number}."
    date_not_before(details["date"], source.date, message)
    _reserve(of, source, amount)
    return of.create(source, by, details, **extra)


def _reserve(of: _Refunded, source, amount: Decimal) -> None:
    source.reserved += amount
    source.save(update_fields=["reserved", *of.touch])


def _release(of: _Refunded, refund, by, date):
    refund, source = of.lock(refund)
    enforce(by, Act.RELEASE, refund)
    date = date_not_before(date, source.date, f"The refund can't be dated before {source.number}.")
    check_business_date(date)
    _reserve(of, source, -refund.amount)
    return of.release(refund, source, date, by)


def _cancel(of: _Refunded, refund, by):
    refund, source = of.lock(refund)
    enforce(by, Act.CANCEL_REFUND, refund)
    _reserve(of, source, -refund.amount)
    of.mark_cancelled(refund, by)
    audit(by, of.cancelled, of.target(refund, source), refund.amount)
    return refund


def _reverse(of: _Refunded, refund, by, date):
    refund, source = of.lock(refund)
    held = of.hold(refund)
    enforce(by, Act.REVERSE_REFUND, refund)
    date = date_not_before(date, refund.date, "The reversal can't be dated before the refund.")
    check_business_date(date)
    of.undo(refund, source, date, by)
    memo = of.reversal_memo(refund, source)
    reversal = journal_entry_reverse(entry=of.entry(refund), date=date, by=by, memo=memo)
    detail = of.mark_reversed(refund, source, reversal, date, by, held)
    target = of.target(refund, source)
    audit(by, of.reversed, target, refund.amount, **detail, journal_entry=reversal.pk)
    return refund


# --- the services -----------------------------------------------------------------------------

PREPARE = {"needs": Action.EDIT_DRAFTS, "dated": "The refund date", "clean": AMOUNT}
RELEASE = {"needs": Action.RELEASE_REFUND, "dated": "The release date"}


@service("refund_prepare", **PREPARE)
def refund_prepare(*, document: Document, by, **details) -> Document:
    """Prepare a refund (status Pending) from a negative open item; `details` are the
    money's (`money()`: amount, method, date, reference, memo). It reserves that much of
    the credit, so nothing else can use it until a Poster releases or cancels the refund."""
    details = money(**details)
    credit, _ = refund_source(document)
    if credit is None:
        raise InvoicingError(f"{document.number} has no open credit to refund.", code="no_credit")
    docs = _lock_in_order({document.pk, credit.pk})  # two refunds of one credit queue here
    document, credit = docs[document.pk], docs[credit.pk]
    enforce(by, Act.REFUND, document)
    available = credit.usable
    if document.is_draft:
        available = min(available, -document.display_balance)
    prepared_on = document if document.is_draft else None
    return _prepare(CREDIT, credit, available, by, details, prepared_on=prepared_on)


@service("deposit_refund_prepare", **PREPARE)
def deposit_refund_prepare(*, deposit: Deposit, by, **details) -> DepositRefund:
    """Refund This Deposit: a pending refund holding that much of the deposit; `details`
    as refund_prepare's."""
    details = money(**details)
    deposit = _lock_deposit(deposit)
    enforce(by, Act.REFUND, deposit)
    return _prepare(DEPOSIT, deposit, deposit.usable, by, details)


@service("refund_release", **RELEASE)
def refund_release(*, refund: Document, by, date: datetime.date | None = None) -> Document:
    """Release a pending refund: money goes out. Posts Dr A/R, Cr Bank or Credit Card
    Clearing, and pays the credit back by the refund's amount."""
    return _release(CREDIT, refund, by, date)


@service("deposit_refund_release", **RELEASE)
def deposit_refund_release(*, refund: DepositRefund, by, date: datetime.date | None = None):
    """Release a deposit refund: Dr Customer Deposits, Cr Bank or Credit Card Clearing."""
    return _release(DEPOSIT, refund, by, date)


@service("refund_cancel")
def refund_cancel(*, refund: Document, by) -> Document:
    """Cancel a pending refund (its preparer or a Poster), freeing the credit it reserved."""
    return _cancel(CREDIT, refund, by)


@service("deposit_refund_cancel")
def deposit_refund_cancel(*, refund: DepositRefund, by) -> DepositRefund:
    """Cancel a pending deposit refund (its preparer or a Poster); the deposit is free
    again. The refund records who cancelled it and when."""
    return _cancel(DEPOSIT, refund, by)


@service("refund_reverse", needs=Action.RELEASE_REFUND)
def refund_reverse(*, refund: Document, by, date: datetime.date | None = None) -> Document:
    """Reverse a released refund (Poster): the exact reverse of its entry, the credit it
    paid back is open again, and a store-credit deposit it created is withdrawn — refused
    if that deposit was already used."""
    return _reverse(CREDIT, refund, by, date)


@service("deposit_refund_reverse", needs=Action.RELEASE_REFUND)
def deposit_refund_reverse(*, refund: DepositRefund, by, date: datetime.date | None = None):
    """Reverse a released deposit refund (Poster): the exact reverse of its entry; the
    deposit holds the amount again."""
    return _reverse(DEPOSIT, refund, by, date)
