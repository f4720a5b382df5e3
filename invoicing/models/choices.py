"""The choices the A/R models store: document kinds and statuses, payment methods, refund
statuses as the desk names them, credit reasons, and who made an application."""

from django.db import models

from ledger.models import SystemRole


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_MEMO = "credit_memo", "Credit Memo"
    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"
    DEPOSIT = "deposit", "Customer Deposit"


class PaymentMethod(models.TextChoices):
    CHECK = "check", "Check"
    EFT = "eft", "EFT/Wire"
    CARD = "card", "Credit Card"
    CASH = "cash", "Cash"
    STORE_CREDIT = "store_credit", "Store Credit"

    @classmethod
    def for_payments(cls):
        return [(m.value, m.label) for m in (cls.CHECK, cls.EFT, cls.CARD, cls.CASH)]

    @classmethod
    def cash_account_role(cls, method: str) -> str:
        """The system role of the account money moves through (ledger.models.SystemRole):
        card clearing for cards, the bank otherwise; store credit moves into Customer
        Deposits. `ledger.selectors.system_account(role)` finds the account."""
        if method == cls.CARD:
            return SystemRole.CARD_CLEARING
        if method == cls.STORE_CREDIT:
            return SystemRole.DEPOSITS
        return SystemRole.BANK


class DocumentStatus(models.TextChoices):
    # Labels are the names, title-cased: Draft, Posted, Void.
    DRAFT = "draft"
    POSTED = "posted"
    VOID = "void"


class RefundStatus(models.TextChoices):
    """Where a refund stands, as screens say it. Stored, a refund (a Document of kind refund
    or a DepositRefund) keeps DocumentStatus — releasing is how it posts — and this reads it:
    `RefundStatus.of`."""

    PENDING = "pending", "Pending"
    RELEASED = "released", "Released"
    CANCELLED = "cancelled", "Cancelled"
    REVERSED = "reversed", "Reversed"

    @classmethod
    def of(cls, status: str, *, was_reversed: bool) -> "RefundStatus":
        """A refund's status from its stored DocumentStatus and whether it was reversed
        (voided after it was released, rather than cancelled while pending)."""
        if status == DocumentStatus.DRAFT:
            return cls.PENDING
        if status == DocumentStatus.POSTED:
            return cls.RELEASED
        return cls.REVERSED if was_reversed else cls.CANCELLED


class CreditReason(models.TextChoices):
    RETURN = "return", "Return"
    PRICE_ADJUSTMENT = "price_adjustment", "Price adjustment"
    CANCELLATION = "cancellation", "Cancellation"
    GOODWILL = "goodwill", "Goodwill"
    OTHER = "other", "Other"


class ApplicationOrigin(models.TextChoices):
    """Who made an application: a person (Apply Credit, a payment's allocation) or the
    system (releasing a refund, posting an invoice with a payment earmarked for it).
    Only what a person made may be unapplied by hand."""

    MANUAL = "manual", "Applied by hand"
    REFUND = "refund", "Refund released"
    EARMARK = "earmark", "Payment taken on the invoice"
