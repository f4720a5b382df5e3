"""What customers receive: the company's letterhead (an admin-edited profile), the PDF of a
posted document frozen as first rendered (its bytes never change; SHA-256 recorded), and
every send of a document, by email or on paper, with its outcome."""

from django.db import models
from django.db.models import Q

from invoicing.models.base import Authored, optional_user_fk
from invoicing.models.deposits import Deposit
from invoicing.models.documents import Document

DEFAULT_SUBJECT = "{title} {number} from {company}"
DEFAULT_MESSAGE = (
    "Dear {customer},\n\n"
    "Please find attached {title} {number} dated {date} for {grand_total}.\n"
    "{status_line}\n\n"
    "Thank you,\n{company}"
)


def one_subject(name: str) -> models.CheckConstraint:
    """A row about exactly one thing: a document or a deposit."""
    return models.CheckConstraint(
        condition=Q(document__isnull=False, deposit__isnull=True)
        | Q(document__isnull=True, deposit__isnull=False),
        name=name,
    )


class CompanyProfile(models.Model):
    """The letterhead and email wording on everything a customer receives. One row (pk 1),
    edited in the admin; until it exists, `COMPANY_*` settings supply the values."""

    name = models.CharField(max_length=200)
    address = models.TextField(blank=True, help_text="One line per row.")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    logo = models.CharField(
        max_length=255, blank=True, help_text="Path of a PNG/SVG/JPEG file on the server."
    )
    remit_to = models.TextField(
        blank=True, help_text="Where customers send payments; blank means the address above."
    )
    email_subject = models.CharField(
        max_length=200,
        default=DEFAULT_SUBJECT,
        help_text="Placeholders: {title} {number} {date} {customer} {company} {grand_total} "
        "{balance_due} {remaining_credit} {status_line} (Balance Due, or the credit left).",
    )
    email_message = models.TextField(default=DEFAULT_MESSAGE, help_text="Same placeholders.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "company profile"

    def __str__(self):
        return self.name


class FrozenPDF(models.Model):
    """The PDF of a posted document (or deposit) as first rendered, kept through Django's
    storage API. Every later download and email attachment serves these exact bytes."""

    document = models.OneToOneField(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="frozen_pdf"
    )
    deposit = models.OneToOneField(
        Deposit, null=True, blank=True, on_delete=models.PROTECT, related_name="frozen_pdf"
    )
    file = models.FileField(upload_to="documents/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    rendered_at = models.DateTimeField(auto_now_add=True)
    rendered_by = optional_user_fk()

    class Meta:
        constraints = [one_subject("frozenpdf_one_subject")]

    def __str__(self):
        return f"{self.document or self.deposit}.pdf ({self.sha256[:12]})"


class SendChannel(models.TextChoices):
    EMAIL = "email"
    PRINT = "print"


class SendStatus(models.TextChoices):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class EmailSend(Authored):
    """What every send by email records (a document's, a statement's): its state, the
    email as sent (blank for a print send) and what became of it. Abstract: each send has
    its own table, and the fields (no migration) are the ones both always had."""

    status = models.CharField(max_length=10, choices=SendStatus.choices, db_index=True)
    to = models.TextField(blank=True, help_text="Addresses, one per line.")
    cc = models.TextField(blank=True, help_text="Addresses, one per line.")
    subject = models.CharField(max_length=255, blank=True)
    message = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def recipients(self) -> list[str]:
        return [a for a in self.to.split() if a]


class DocumentSend(EmailSend):
    """One send of a document to its customer: an email (queued, then sent or failed with
    the reason) or a print run. Rows are never deleted; a retry is a new row."""

    document = models.ForeignKey(
        Document, null=True, blank=True, on_delete=models.PROTECT, related_name="sends"
    )
    deposit = models.ForeignKey(
        Deposit, null=True, blank=True, on_delete=models.PROTECT, related_name="sends"
    )
    channel = models.CharField(max_length=10, choices=SendChannel.choices)

    class Meta:
        constraints = [one_subject("documentsend_one_subject")]
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.get_channel_display()} of {self.document or self.deposit}: {self.status}"
