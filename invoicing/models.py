"""A/R documents: invoices and credit memos in one table (credits list alongside invoices
everywhere, as aACE insists), their lines, item codes and tax profiles.

One module because the document, application, deposit and refund models reference each
other and share their abstract bases (Authored, Posted, Removable, MoneyMoved)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, DecimalField, F, Q, Value, When
from django.urls import reverse

from customers.models import BillingTerms
from ledger.aggregates import money_sum
from ledger.models import Account, SystemRole
from ledger.money import ZERO

MONEY = {"max_digits": 14, "decimal_places": 2}


class TaxProfile(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    rate = models.DecimalField(
        "rate (%)", max_digits=7, decimal_places=4, help_text="Percent, e.g. 8.2500"
    )
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate__gte=0) & Q(rate__lte=100), name="taxprofile_rate_0_100"
            )
        ]

    def __str__(self):
        return f"{self.code} ({self.rate.normalize():f}%)"


class Item(models.Model):
    """A line item code ("LIC"): what a line sells or credits, and where it posts."""

    code = models.CharField(max_length=20, unique=True)
    description = models.CharField(max_length=200)
    income_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Credited when an invoice line with this item is posted.",
    )
    credit_account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text="Debited when a credit memo line with this item is posted; "
        "blank means Sales Returns and Allowances.",
    )
    default_unit_price = models.DecimalField(**MONEY, default=0)
    default_tax_profile = models.ForeignKey(
        TaxProfile, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.description}"


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


def _user():
    """Who did something (a user is never deleted while rows name them)."""
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")


def _optional_user(verbose_name=None, help_text=""):
    """Who did something that may not have happened yet (posted, voided, released…)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=verbose_name,
        help_text=help_text,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )


# A refund (a Document of kind refund, or a DepositRefund) posts by being released.
POSTED_BY_HELP = (
    "Who posted it; for a refund, the Poster who released it (releasing is how a refund posts)."
)
POSTED_AT_HELP = "When it was posted; for a refund, when it was released."


def _posted_by():
    return _optional_user("posted by", POSTED_BY_HELP)


def _posted_at():
    return models.DateTimeField("posted at", null=True, blank=True, help_text=POSTED_AT_HELP)


def _optional_entry():
    """The journal entry an action wrote, once it happened."""
    return models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class Authored(models.Model):
    """Who made the row, and when."""

    created_by = _user()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Posted(Authored):
    """A document that posts (Document, Deposit): its posting and void, who did them, when,
    and the journal entries they wrote."""

    posting_entry = _optional_entry()
    posted_by = _posted_by()
    posted_at = _posted_at()
    void_entry = _optional_entry()
    voided_by = _optional_user()
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_posted(self) -> bool:
        return self.status == DocumentStatus.POSTED


class Removable(Authored):
    """An application (of a credit or a deposit) of `amount` on `date`: removing it keeps
    the row as history."""

    amount = models.DecimalField(**MONEY)
    date = models.DateField(db_index=True)
    removed_on = models.DateField(null=True, blank=True)
    removed_by = _optional_user()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class MoneyMoved(models.Model):
    """Money in or out outside A/R documents (a deposit, a deposit's refund): how much, how
    it moved, its check or transaction number, and a memo."""

    amount = models.DecimalField(**MONEY)
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=60, blank=True)
    memo = models.CharField(max_length=255, blank=True)

    class Meta:
        abstract = True


def positive_amount(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(condition=Q(amount__gt=0), name=name)


class DocumentSequence(models.Model):
    """The last number handed out per kind; its row is locked while a number is taken."""

    kind = models.CharField(max_length=20, choices=DocumentKind.choices, primary_key=True)
    prefix = models.CharField(max_length=10)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.prefix}{self.last_number:06d}"


# aACE's rule, the one definition of "credit": a customer credit is any document with a
# negative grand total — credit memos, payments (until and after they are applied) and
# negative invoices — plus a credit memo still at zero (a new draft). Refunds are positive:
# they pay a credit back. `CREDIT_Q` filters by it and `Document.is_credit` answers it.
CREDIT_KINDS = (DocumentKind.CREDIT_MEMO,)
CREDIT_Q = Q(kind__in=CREDIT_KINDS) | Q(grand_total__lt=0)


def earmarked_open_expr():
    """Signed (negative) sum of what payments earmarked for a draft invoice still hold:
    a posted payment's open amount (with what pending refunds reserve), a draft's total."""
    return Case(
        When(status=DocumentStatus.POSTED, then=F("balance_due") + F("reserved")),
        When(status=DocumentStatus.DRAFT, then=F("grand_total")),
        default=Value(ZERO),
        output_field=DecimalField(**MONEY),
    )


class Document(Posted):
    kind = models.CharField(max_length=20, choices=DocumentKind.choices, db_index=True)
    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="documents"
    )
    date = models.DateField(db_index=True)
    billing_terms = models.CharField(max_length=20, choices=BillingTerms.choices)
    due_date = models.DateField(db_index=True)
    description = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT, db_index=True
    )
    source_invoice = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_memos",
        help_text="The invoice a credit memo was made from.",
    )
    reason = models.CharField(max_length=20, choices=CreditReason.choices, blank=True)
    # Payments and refunds: how the money moved, and the check or transaction number.
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, blank=True)
    reference = models.CharField(max_length=60, blank=True)
    earmarked_for = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="earmarked_payments",
        help_text="A payment taken on a draft invoice, applied to it when the invoice is posted.",
    )
    prepared_on = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds_prepared_on",
        help_text="A refund prepared on a draft invoice lowered below what was paid on it "
        "(Method 2).",
    )
    refund_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        help_text="The credit (negative open item) a refund pays back.",
    )
    # On a credit: the part of its open amount held by pending refunds, which nothing else
    # may use until the refund is released or cancelled.
    reserved = models.DecimalField(**MONEY, default=0)
    note = models.TextField(blank=True)
    subtotal = models.DecimalField(**MONEY, default=0)
    tax_total = models.DecimalField(**MONEY, default=0)
    grand_total = models.DecimalField(**MONEY, default=0)
    # The open (outstanding) amount, signed like grand_total. Kept by the services under a
    # row lock; `check_ledger` recomputes it and ties it to the A/R control account.
    balance_due = models.DecimalField(**MONEY, default=0)
    void_date = models.DateField(null=True, blank=True)
    updated_by = _user()
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every change to what the editor edits; edit forms send back the version they
    # loaded, and a save based on an older one is refused (config.versioning).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-date", "-id"]
        permissions = [
            ("post_document", "Can post documents"),
            ("void_document", "Can void posted documents"),
            ("apply_credit", "Can apply and unapply credits"),
            ("release_refund", "Can release refunds"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="posted") | Q(posted_at__isnull=False),
                name="document_posted_has_posted_at",
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="document_reserved_not_negative"
            ),
            # Invariant 4: the open amount never crosses zero or exceeds the total
            # (0 <= open <= total for positives, total <= open <= 0 for negatives).
            models.CheckConstraint(
                condition=(
                    Q(grand_total__gte=0, balance_due__gte=0, balance_due__lte=F("grand_total"))
                    | Q(grand_total__lt=0, balance_due__lte=0, balance_due__gte=F("grand_total"))
                ),
                name="document_balance_due_in_range",
            ),
            # Only a credit reserves, and no more than its open credit: reserved <= -open.
            models.CheckConstraint(
                condition=Q(reserved=0) | Q(reserved__lte=-F("balance_due")),
                name="document_reserved_within_open_credit",
            ),
        ]
        indexes = [models.Index(fields=["customer", "status"])]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("invoicing:detail", args=[self.pk])

    @property
    def is_money(self) -> bool:
        """A payment or a refund (money in or out), not a billing document."""
        return self.kind in (DocumentKind.PAYMENT, DocumentKind.REFUND)

    @property
    def is_credit(self) -> bool:
        """The rule of `CREDIT_Q`, on one document: a credit memo, or any document with a
        negative grand total (so an unapplied payment is a credit too)."""
        return self.kind in CREDIT_KINDS or self.grand_total < 0

    @property
    def title(self) -> str:
        if self.is_money:
            return self.get_kind_display()
        return "Credit Memo" if self.is_credit else "Invoice"

    @property
    def amount(self):
        """A payment's or refund's amount, positive."""
        return abs(self.grand_total)

    @property
    def usable(self):
        """What this open item can still give to applications or refunds, positive: an
        invoice's open amount; a credit's open amount less what pending refunds reserve."""
        if self.balance_due > 0:
            return self.balance_due
        return -self.balance_due - self.reserved

    @property
    def status_label(self) -> str:
        if self.kind == DocumentKind.REFUND:
            return self.refund_status.label
        return self.get_status_display()

    @property
    def refund_status(self) -> RefundStatus:
        """A refund's status: void after it was released (it has a posting entry) is a
        reversal, void before is a cancel."""
        return RefundStatus.of(self.status, was_reversed=bool(self.posting_entry_id))

    @property
    def display_balance(self):
        """Balance Due as screens show it: the open amount once posted; for a draft, its
        total less the payments earmarked for it (Spectra's Method 2) — negative when the
        draft was lowered below what was paid; nothing for a void document."""
        if self.status == DocumentStatus.DRAFT:
            if self.kind != DocumentKind.INVOICE or not self.pk:
                return self.grand_total
            earmarked = getattr(self, "earmarked_open", None)  # annotated by listings
            if earmarked is None:
                earmarked = self.earmarked_total()
            return self.grand_total + earmarked
        return self.balance_due

    def earmarked_total(self) -> Decimal:
        """What the payments earmarked for this (draft) invoice still hold, negative; the
        listings annotate the same sum (`invoicing.selectors.documents.document_list`)."""
        return self.earmarked_payments.filter(kind=DocumentKind.PAYMENT).aggregate(
            total=money_sum(earmarked_open_expr())
        )["total"]

    @property
    def is_draft(self) -> bool:
        return self.status == DocumentStatus.DRAFT


class DocumentLine(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=255, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=4)
    unit_price = models.DecimalField(**MONEY)
    unit_adjustment = models.DecimalField(**MONEY, default=0)
    tax_profile = models.ForeignKey(TaxProfile, on_delete=models.PROTECT, related_name="+")
    # The rate in force when the line was saved, so a later rate change can't move a total.
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, default=0)
    extended_amount = models.DecimalField(**MONEY, default=0)
    tax_amount = models.DecimalField(**MONEY, default=0)
    source_line = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credited_by",
        help_text="The invoice line a credit memo line credits.",
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.item.code} {self.quantity} x {self.unit_price}"


class ApplicationBatch(Authored):
    """One submit of an Apply Credit form. Its key is unique, so a double-clicked or re-sent
    form applies once."""

    key = models.CharField(max_length=64, unique=True)

    def __str__(self):
        return self.key


class ApplicationOrigin(models.TextChoices):
    """Who made an application: a person (Apply Credit, a payment's allocation) or the
    system (releasing a refund, posting an invoice with a payment earmarked for it).
    Only what a person made may be unapplied by hand."""

    MANUAL = "manual", "Applied by hand"
    REFUND = "refund", "Refund released"
    EARMARK = "earmark", "Payment taken on the invoice"


class Application(Removable):
    """Pairs a positive open item (`target`) with a negative one (`source`) and reduces both
    by `amount`. Writes no journal entry: both sides are in A/R. Removing it (unapply) keeps
    the row, so the history stays visible and open amounts can be computed as of any date."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        related_name="applications_received",
        help_text="The positive open item paid down: an invoice, or a refund paying a credit back.",
    )
    source = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        related_name="applications_made",
        help_text="The negative open item used: a credit memo or a payment (a credit).",
    )
    origin = models.CharField(
        max_length=10, choices=ApplicationOrigin.choices, default=ApplicationOrigin.MANUAL
    )
    batch = models.ForeignKey(
        ApplicationBatch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
    )

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            positive_amount("application_amount_positive"),
            models.CheckConstraint(
                condition=~Q(target=models.F("source")), name="application_two_documents"
            ),
        ]

    def __str__(self):
        return f"{self.source} → {self.target}: {self.amount}"


class PlannedApplication(models.Model):
    """How a draft payment is to be allocated; applied when the payment is posted."""

    payment = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="planned_applications"
    )
    invoice = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [positive_amount("planned_amount_positive")]

    def __str__(self):
        return f"{self.payment} → {self.invoice}: {self.amount}"


class Deposit(Posted, MoneyMoved):
    """A customer deposit: money received before there is an invoice (Spectra "Customer
    Deposit"). It posts to Customer Deposits (a liability), not A/R; applying it to an
    invoice moves the applied part into A/R. Store credit refunds also become deposits."""

    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="deposits"
    )
    date = models.DateField(db_index=True)
    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT, db_index=True
    )
    # What is left to apply or refund, and what pending refunds hold of it.
    remaining = models.DecimalField(**MONEY, default=0)
    reserved = models.DecimalField(**MONEY, default=0)
    source_refund = models.OneToOneField(
        Document,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="store_credit_deposit",
        help_text="The store-credit refund this deposit holds.",
    )

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            positive_amount("deposit_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("amount")),
                name="deposit_remaining_in_range",
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0) & Q(reserved__lte=models.F("remaining")),
                name="deposit_reserved_in_range",
            ),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("deposits:detail", args=[self.pk])

    @property
    def usable(self):
        return self.remaining - self.reserved if self.status == DocumentStatus.POSTED else 0


class DepositApplication(Removable):
    """Part of a deposit applied to an invoice: Dr Customer Deposits, Cr A/R, at once.
    Removing it writes the reversing entry; the row stays as history."""

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="applications")
    invoice = models.ForeignKey(
        Document, on_delete=models.PROTECT, related_name="deposit_applications"
    )
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="+")
    removal_entry = _optional_entry()

    class Meta:
        ordering = ["date", "id"]
        constraints = [positive_amount("deposit_application_positive")]

    def __str__(self):
        return f"{self.deposit} → {self.invoice}: {self.amount}"


class DepositRefund(Authored, MoneyMoved):
    """Refund This Deposit: pending until a Poster releases it (Dr Customer Deposits, Cr Bank
    or Credit Card Clearing)."""

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="refunds")
    date = models.DateField()
    status = models.CharField(
        max_length=10, choices=DocumentStatus.choices, default=DocumentStatus.DRAFT
    )
    entry = _optional_entry()
    # Named like Document's: releasing is how a refund posts. (Not `Posted`: a deposit
    # refund keeps one entry per step — entry, reversal_entry — and tells a cancel from a
    # reversal, where `Posted` has one void.)
    posted_by = _posted_by()
    posted_at = _posted_at()
    cancelled_by = _optional_user()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reversal_entry = _optional_entry()
    reversed_by = _optional_user()
    reversed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["date", "id"]
        constraints = [positive_amount("deposit_refund_positive")]

    def __str__(self):
        return f"Refund of {self.deposit}: {self.amount}"

    @property
    def refund_status(self) -> RefundStatus:
        return RefundStatus.of(self.status, was_reversed=bool(self.reversal_entry_id))

    @property
    def status_label(self) -> str:
        return self.refund_status.label
