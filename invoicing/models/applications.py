"""Applications: a negative open item (source, a credit) paying down a positive one
(target), grouped in batches per form submit; a draft payment's planned allocation."""

from django.db import models
from django.db.models import Q

from invoicing.models.base import MONEY, Authored, Removable, optional_fk, positive_amount
from invoicing.models.choices import ApplicationOrigin
from invoicing.models.documents import Document


class ApplicationBatch(Authored):
    """One submit of an Apply Credit form. Its key is unique, so a double-clicked or re-sent
    form applies once."""

    key = models.CharField(max_length=64, unique=True)

    def __str__(self):
        return self.key


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
    batch = optional_fk(ApplicationBatch, "applications")

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
