"""The general ledger: chart of accounts, balanced immutable journal entries, the
books-closed date, and the audit trail every service writes to."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q


class AccountType(models.TextChoices):
    # Labels are the names, title-cased (Asset, Liability, ...), but for Contra-income.
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    CONTRA_INCOME = "contra_income", "Contra-income"
    EXPENSE = "expense"


class NormalSide(models.TextChoices):
    # Labels are the names, title-cased: Debit, Credit.
    DEBIT = "debit"
    CREDIT = "credit"


class SystemRole(models.TextChoices):
    """What the services post to. They find each account by its role
    (`ledger.selectors.system_account`), never by its code or name, which accountants may
    change; a role, once given (by the chart's seed), can't be removed or moved. (Labels are
    the names, title-cased, where none is written: Bank, Sales.)"""

    RECEIVABLE = "receivable", "Accounts Receivable (control)"
    DEPOSITS = "deposits", "Customer Deposits"
    SALES_TAX = "sales_tax", "Sales Tax Payable"
    BANK = "bank"
    CARD_CLEARING = "card_clearing", "Credit Card Clearing"
    SALES = "sales"
    SALES_RETURNS = "sales_returns", "Sales Returns and Allowances"
    REWARDS = "rewards", "Customer Rewards and Promotions"
    WRITE_OFFS = "write_offs", "Small Balance Write-offs"


class Account(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=20, choices=AccountType.choices)
    normal_side = models.CharField(max_length=6, choices=NormalSide.choices)
    is_active = models.BooleanField("active", default=True)
    system_role = models.CharField(
        max_length=20,
        choices=SystemRole.choices,
        null=True,
        blank=True,
        unique=True,
        help_text="What the services post to this account for. Set by the chart's seed; "
        "it can't be changed or removed.",
    )

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class LedgerSettings(models.Model):
    """One row (pk=1): settings accountants change in the admin."""

    books_closed_through = models.DateField(
        null=True,
        blank=True,
        help_text="Nothing may be posted dated on or before this date.",
    )
    # When the closed date last moved: entries dated in the closed period but posted after
    # this moment broke the close (check_ledger, invariant 7).
    closed_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "ledger settings"
        verbose_name_plural = "ledger settings"

    def __str__(self):
        closed = self.books_closed_through
        return f"Books closed through {closed:%m/%d/%Y}" if closed else "Books open"

    def save(self, *args, **kwargs):
        previous = (
            type(self)
            .objects.filter(pk=self.pk)
            .values_list("books_closed_through", flat=True)
            .first()
        )
        if self.books_closed_through != previous:
            from django.utils import timezone

            self.closed_at = timezone.now()
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> "LedgerSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class JournalEntry(models.Model):
    """One balanced entry. Entries are written posted and never change afterwards; a
    correction is a reversing entry (`reversal_of`)."""

    date = models.DateField(db_index=True)
    memo = models.CharField(max_length=255, blank=True)
    source_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    source_ref = models.CharField("source document", max_length=40, blank=True, db_index=True)
    reversal_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["source_type", "source_id"])]

    def __str__(self):
        return f"JE-{self.pk:06d} {self.date:%m/%d/%Y} {self.memo}"

    @property
    def number(self) -> str:
        return f"JE-{self.pk:06d}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="journal_lines",
        help_text="Set where the line touches A/R or Customer Deposits.",
    )
    debit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    credit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    memo = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(credit__gt=0) & Q(debit=0)),
                name="journalline_debit_xor_credit_positive",
            ),
        ]

    def __str__(self):
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account.code} {side}"


class AuditAction(models.TextChoices):
    """What an audit event records. Values are the strings stored before this enumeration
    existed, so every stored row stays valid; `ledger.services.audit_log` takes only these."""

    JOURNAL_ENTRY_POSTED = "journal entry posted", "Journal entry posted"
    BOOKS_CLOSED = "books closed", "Books closed"
    CUSTOMER_CREATED = "customer created", "Customer created"
    CUSTOMER_CHANGED = "customer changed", "Customer changed"
    INVOICE_CREATED = "invoice created", "Invoice created"
    INVOICE_CHANGED = "invoice changed", "Invoice changed"
    INVOICE_POSTED = "invoice posted", "Invoice posted"
    INVOICE_VOIDED = "invoice voided", "Invoice voided"
    INVOICE_DRAFT_CANCELLED = "invoice draft cancelled", "Invoice draft cancelled"
    CREDIT_MEMO_CREATED = "credit memo created", "Credit memo created"
    CREDIT_MEMO_CHANGED = "credit memo changed", "Credit memo changed"
    CREDIT_MEMO_POSTED = "credit memo posted", "Credit memo posted"
    CREDIT_MEMO_VOIDED = "credit memo voided", "Credit memo voided"
    CREDIT_MEMO_DRAFT_CANCELLED = "credit memo draft cancelled", "Credit memo draft cancelled"
    PAYMENT_RECORDED = "payment recorded", "Payment recorded"
    PAYMENT_POSTED = "payment posted", "Payment posted"
    PAYMENT_VOIDED = "payment voided", "Payment voided"
    PAYMENT_DRAFT_CANCELLED = "payment draft cancelled", "Payment draft cancelled"
    CREDIT_APPLIED = "credit applied", "Credit applied"
    CREDIT_UNAPPLIED = "credit unapplied", "Credit unapplied"
    REFUND_PREPARED = "refund prepared", "Refund prepared"
    REFUND_RELEASED = "refund released", "Refund released"
    REFUND_CANCELLED = "refund cancelled", "Refund cancelled"
    REFUND_REVERSED = "refund reversed", "Refund reversed"
    STORE_CREDIT_ISSUED = "store credit issued", "Store credit issued"
    DEPOSIT_RECORDED = "deposit recorded", "Deposit recorded"
    DEPOSIT_POSTED = "deposit posted", "Deposit posted"
    DEPOSIT_DRAFT_CANCELLED = "deposit draft cancelled", "Deposit draft cancelled"
    DEPOSIT_VOIDED = "deposit voided", "Deposit voided"
    DEPOSIT_APPLIED = "deposit applied", "Deposit applied"
    DEPOSIT_UNAPPLIED = "deposit unapplied", "Deposit unapplied"
    DEPOSIT_REFUND_PREPARED = "deposit refund prepared", "Deposit refund prepared"
    DEPOSIT_REFUND_RELEASED = "deposit refund released", "Deposit refund released"
    DEPOSIT_REFUND_CANCELLED = "deposit refund cancelled", "Deposit refund cancelled"
    DEPOSIT_REFUND_REVERSED = "deposit refund reversed", "Deposit refund reversed"
    EMAIL_QUEUED = "email queued", "Email queued"
    EMAIL_SENT = "email sent", "Email sent"
    EMAIL_FAILED = "email failed", "Email failed"
    DOCUMENT_PRINTED = "document printed", "Document printed"
    SIGN_IN_FAILED = "sign-in failed", "Sign-in failed"
    SIGN_IN_LOCKED_OUT = "sign-in locked out", "Sign-in locked out"
    TWO_FACTOR_ENROLLED = "two-factor enrolled", "Two-factor enrolled"
    TWO_FACTOR_FAILED = "two-factor code refused", "Two-factor code refused"
    RECOVERY_CODES_RENEWED = "recovery codes renewed", "Recovery codes renewed"


class AuditEvent(models.Model):
    """A domain event ("invoice posted", "customer changed") written by the service that
    made the change, in the same transaction."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=60, choices=AuditAction.choices, db_index=True)
    target_type = models.ForeignKey(
        ContentType, null=True, on_delete=models.PROTECT, related_name="+"
    )
    target_id = models.PositiveBigIntegerField(null=True)
    target_ref = models.CharField(max_length=80, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_ref}"


class IdempotencyKey(models.Model):
    """A one-time key a form (or an API caller) sends with a state-changing request.

    The service claims it with INSERT … ON CONFLICT DO NOTHING in the same transaction as
    its work: a concurrent duplicate waits on the unique index until the first commits,
    then finds the row and returns the first result instead of doing the work again."""

    key = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=60)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    result_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result_id = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.scope} {self.key}"

    @property
    def result(self):
        if self.result_type_id is None:
            return None
        return self.result_type.get_object_for_this_type(pk=self.result_id)
