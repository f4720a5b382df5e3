"""What lines sell or credit: tax profiles and item codes (each item carries its income
account and, for credits, the account a credit memo line debits)."""

from django.db import models

from invoicing.models.base import MONEY, between, optional_fk
from ledger.models import Account


class TaxProfile(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    rate = models.DecimalField(
        "rate (%)", max_digits=7, decimal_places=4, help_text="Percent, e.g. 8.2500"
    )
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["code"]
        constraints = [between("rate", 0, 100, "taxprofile_rate_0_100")]

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
    credit_account = optional_fk(
        Account,
        "+",
        "Debited when a credit memo line with this item is posted; "
        "blank means Sales Returns and Allowances.",
    )
    default_unit_price = models.DecimalField(**MONEY, default=0)
    default_tax_profile = optional_fk(TaxProfile, "+")
    is_active = models.BooleanField("active", default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.description}"
