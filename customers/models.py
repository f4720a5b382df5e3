"""Customers: who we bill, on what terms."""

import datetime

from django.conf import settings
from django.db import models
from django.urls import reverse


class BillingTerms(models.TextChoices):
    DUE_ON_RECEIPT = "due_on_receipt", "Due on receipt"
    NET_15 = "net_15", "Net 15"
    NET_30 = "net_30", "Net 30"
    NET_60 = "net_60", "Net 60"

    @classmethod
    def days(cls, terms: str) -> int:
        return {cls.DUE_ON_RECEIPT: 0, cls.NET_15: 15, cls.NET_30: 30, cls.NET_60: 60}[terms]

    @classmethod
    def due_date(cls, terms: str, date: datetime.date) -> datetime.date:
        """The date plus the terms' days; never past the last date Python can hold (a
        document dated near it is refused by the business-date check, not by a 500)."""
        try:
            return date + datetime.timedelta(days=cls.days(terms))
        except OverflowError:
            return datetime.date.max


class Delivery(models.TextChoices):
    """How a customer wants its documents: the To Be Sent list groups by it."""

    EMAIL = "email", "Email"
    PRINT = "print", "Print and mail"


class Customer(models.Model):
    code = models.CharField(
        max_length=20,
        unique=True,
        help_text="Short code shown on documents, e.g. MSD.",
    )
    name = models.CharField(max_length=200, db_index=True)
    billing_contact = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address line 2", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField("state / region", max_length=50, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    billing_terms = models.CharField(
        max_length=20, choices=BillingTerms.choices, default=BillingTerms.NET_30
    )
    delivery = models.CharField(
        "send documents by",
        max_length=10,
        choices=Delivery.choices,
        default=Delivery.EMAIL,
        help_text="Email goes to the email address above; Print lists the document to print.",
    )
    notes = models.TextField(blank=True)
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Bumped by every change; the edit form sends back the version it loaded, and a save
    # based on an older one is refused (config.versioning).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.code})"

    def get_absolute_url(self):
        return reverse("customers:detail", args=[self.pk])

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(
            part
            for part in [f"{self.city}," if self.city else "", self.state, self.postal_code]
            if part
        ).strip(" ,")
        return [line for line in [self.address_line1, self.address_line2, city_line] if line]
