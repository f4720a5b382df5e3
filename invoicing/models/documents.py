"""A/R documents: invoices, credit memos, payments and refunds in one table (credits list
alongside invoices everywhere, as aACE insists), their numbering and lines, and the one
definition of a credit (CREDIT_Q / Document.is_credit)."""

from decimal import Decimal

from django.db import models
from django.db.models import Case, DecimalField, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from customers.models import BillingTerms
from invoicing.models.base import MONEY, Posted, optional_fk, user_fk
from invoicing.models.catalog import Item, TaxProfile
from invoicing.models.choices import (
    CreditReason,
    DocumentKind,
    DocumentStatus,
    PaymentMethod,
    RefundStatus,
)
from ledger.aggregates import money_sum
from ledger.money import ZERO


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
    source_invoice = optional_fk("self", "credit_memos", "The invoice a credit memo was made from.")
    reason = models.CharField(max_length=20, choices=CreditReason.choices, blank=True)
    # Payments and refunds: how the money moved, and the check or transaction number.
    method = models.CharField(max_length=20, choices=PaymentMethod.choices, blank=True)
    reference = models.CharField(max_length=60, blank=True)
    earmarked_for = optional_fk(
        "self",
        "earmarked_payments",
        "A payment taken on a draft invoice, applied to it when the invoice is posted.",
    )
    prepared_on = optional_fk(
        "self",
        "refunds_prepared_on",
        "A refund prepared on a draft invoice lowered below what was paid on it (Method 2).",
    )
    refund_of = optional_fk(
        "self", "refunds", "The credit (negative open item) a refund pays back."
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
    updated_by = user_fk()
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
        indexes = [
            models.Index(fields=["customer", "status"]),
            # A customer's open items, oldest due first (Apply Credit's and Record
            # Payment's picker, a page at a time at any number of open items).
            models.Index(
                fields=["customer", "due_date", "date", "id"],
                condition=Q(status="posted") & ~Q(balance_due=0),
                name="document_open_items",
            ),
        ]

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

    @property
    def days_overdue(self) -> int:
        """Days past its due date, today, of a posted document still owed (else 0)."""
        if self.status != DocumentStatus.POSTED or self.balance_due <= 0:
            return 0
        return max((timezone.localdate() - self.due_date).days, 0)


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
    source_line = optional_fk("self", "credited_by", "The invoice line a credit memo line credits.")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.item.code} {self.quantity} x {self.unit_price}"
