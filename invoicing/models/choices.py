"""The choices the A/R models store: document kinds and statuses, payment methods, refund
statuses as the desk names them, credit reasons, and who made an application.

A member given only a value is labelled with its name, title-cased (CREDIT_MEMO is
"Credit Memo"); a label is written out only where the desk says it otherwise."""

from django.db import models

from ledger.models import SystemRole


class DocumentKind(models.TextChoices):
    INVOICE = "invoice"
    CREDIT_MEMO = "credit_memo"
    PAYMENT = "payment"
    REFUND = "refund"
    DEPOSIT = "deposit", "Customer Deposit"


class PaymentMethod(models.TextChoices):
    CHECK = "check"
    EFT = "eft", "EFT/Wire"
    CARD = "card", "Credit Card"
    CASH = "cash"
    STORE_CREDIT = "store_credit"

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
    DRAFT = "draft"
    POSTED = "posted"
    VOID = "void"


class RefundStatus(models.TextChoices):
    """Where a refund stands, as screens say it. Stored, a refund (a Document of kind refund
    or a DepositRefund) keeps DocumentStatus — releasing is how it posts — and this reads it:
    `RefundStatus.of`."""

    PENDING = "pending"
    RELEASED = "released"
    CANCELLED = "cancelled"
    REVERSED = "reversed"

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
    RETURN = "return"
    PRICE_ADJUSTMENT = "price_adjustment", "Price adjustment"
    CANCELLATION = "cancellation"
    GOODWILL = "goodwill"
    OTHER = "other"


class ApplicationOrigin(models.TextChoices):
    """Who made an application: a person (Apply Credit, a payment's allocation) or the
    system (releasing a refund, posting an invoice with a payment earmarked for it).
    Only what a person made may be unapplied by hand."""

    MANUAL = "manual", "Applied by hand"
    REFUND = "refund", "Refund released"
    EARMARK = "earmark", "Payment taken on the invoice"
