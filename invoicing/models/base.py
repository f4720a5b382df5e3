"""What the A/R models share: the money column shape, the abstract bases that stamp who
made, posted and removed a row (Authored, Posted, Removable), the money-moved fields
(MoneyMoved) and the positive-amount constraint."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from invoicing.models.choices import DocumentStatus, PaymentMethod

MONEY = {"max_digits": 14, "decimal_places": 2}


def user_fk():
    """Who did something (a user is never deleted while rows name them)."""
    return models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")


def optional_user_fk(verbose_name=None, help_text=""):
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


def posted_by_fk():
    return optional_user_fk("posted by", POSTED_BY_HELP)


def posted_at_field():
    return models.DateTimeField("posted at", null=True, blank=True, help_text=POSTED_AT_HELP)


def optional_fk(to, related_name, help_text=""):
    """A link set only on the rows it applies to (a credit memo's invoice, "self"; an
    application's batch…); what it names can't be deleted while linked."""
    return models.ForeignKey(
        to,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name=related_name,
        help_text=help_text,
    )


def optional_entry_fk():
    """The journal entry an action wrote, once it happened."""
    return models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class Authored(models.Model):
    """Who made the row, and when."""

    created_by = user_fk()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Posted(Authored):
    """A document that posts (Document, Deposit): its posting and void, who did them, when,
    and the journal entries they wrote."""

    posting_entry = optional_entry_fk()
    posted_by = posted_by_fk()
    posted_at = posted_at_field()
    void_entry = optional_entry_fk()
    voided_by = optional_user_fk()
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_posted(self) -> bool:
        return self.status == DocumentStatus.POSTED

    @property
    def is_issued(self) -> bool:
        """Was it ever issued to the customer: posted now, or voided after it was posted
        (it has a posting entry). Drafts, pending refunds and cancelled ones were not."""
        return self.is_posted or (
            self.status == DocumentStatus.VOID and self.posting_entry_id is not None
        )


class Removable(Authored):
    """An application (of a credit or a deposit) of `amount` on `date`: removing it keeps
    the row as history."""

    amount = models.DecimalField(**MONEY)
    date = models.DateField(db_index=True)
    removed_on = models.DateField(null=True, blank=True, db_index=True)
    removed_by = optional_user_fk()
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


def between(field: str, low, high, name: str) -> models.CheckConstraint:
    """low <= field <= high; a bound may be another field (`F("amount")`)."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": low}) & Q(**{f"{field}__lte": high}), name=name
    )
