"""Customer statements sent: one `StatementSend` per statement emailed to a customer (queued,
then sent or failed with the reason), and one `StatementRun` per "Send statements" batch
with its progress and a result per customer.

A customer never gets two copies of the same statement: the database allows one send that
did not fail per (customer, statement date, kind) — a failed send may be retried."""

from django.db import models
from django.db.models import Q

from invoicing.models.base import Authored
from invoicing.models.delivery import EmailSend, SendStatus


class StatementKind(models.TextChoices):
    OPEN_ITEM = "open_item", "Open-item statement"
    ACTIVITY = "activity", "Activity statement"


class StatementRun(Authored):
    """One "Send statements": the statement asked for, how many customers it covers, and
    what became of each (`results`: [{customer_id, code, name, outcome, detail}], outcome
    one of sent / failed / skipped), filled in by the task as it goes."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=12, choices=StatementKind.choices)
    statement_date = models.DateField(help_text="As of (open item) or the period's end.")
    period_start = models.DateField(null=True, blank=True)
    customer_search = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    customer_ids = models.JSONField(
        default=list, blank=True, help_text="Whom it goes to, in order."
    )
    results = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Statements {self.get_kind_display()} {self.statement_date}: {self.status}"

    @property
    def done(self) -> int:
        return len(self.results)


class StatementSend(EmailSend):
    """One statement emailed to a customer. Rows are never deleted; a retry of a failed
    send is a new row."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="statement_sends"
    )
    kind = models.CharField(max_length=12, choices=StatementKind.choices)
    statement_date = models.DateField(help_text="As of (open item) or the period's end.")
    period_start = models.DateField(null=True, blank=True)
    run = models.ForeignKey(
        StatementRun, null=True, blank=True, on_delete=models.PROTECT, related_name="sends"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "statement_date", "kind"],
                condition=~Q(status=SendStatus.FAILED),
                name="statementsend_one_per_customer_date_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind=StatementKind.OPEN_ITEM, period_start__isnull=True)
                | Q(kind=StatementKind.ACTIVITY, period_start__isnull=False),
                name="statementsend_period_of_kind",
            ),
        ]

    def __str__(self):
        return (
            f"{self.get_kind_display()} {self.statement_date} to {self.customer_id}: {self.status}"
        )
