"""Customer deposits (a liability until applied), their applications to invoices, and their
refunds."""

from django.db import models
from django.db.models import F
from django.urls import reverse

from invoicing.models.base import (
    MONEY,
    Authored,
    MoneyMoved,
    Posted,
    Removable,
    between,
    optional_entry_fk,
    optional_user_fk,
    positive_amount,
    posted_at_field,
    posted_by_fk,
)
from invoicing.models.choices import DocumentStatus, RefundStatus
from invoicing.models.documents import Document


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
            between("remaining", 0, F("amount"), "deposit_remaining_in_range"),
            between("reserved", 0, F("remaining"), "deposit_reserved_in_range"),
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
    removal_entry = optional_entry_fk()

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
    entry = optional_entry_fk()
    # Named like Document's: releasing is how a refund posts. (Not `Posted`: a deposit
    # refund keeps one entry per step — entry, reversal_entry — and tells a cancel from a
    # reversal, where `Posted` has one void.)
    posted_by = posted_by_fk()
    posted_at = posted_at_field()
    cancelled_by = optional_user_fk()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    reversal_entry = optional_entry_fk()
    reversed_by = optional_user_fk()
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
