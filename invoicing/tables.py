import django_tables2 as tables
from django.utils.html import format_html

from invoicing.models import Deposit, Document
from ledger.money import format_money
from ledger.tables import MoneyColumn


class DateColumn(tables.Column):
    """A date as the desk writes it (11/02/2026). django-tables2's DateColumn compiles a
    template for every cell it renders; this formats in Python."""

    def render(self, value):
        return value.strftime("%m/%d/%Y")


class _LedgerRowTable(tables.Table):
    """Columns every desk table has (number, date, customer, status as a badge); each
    table's Meta.sequence places them."""

    number = tables.Column(verbose_name="Number", linkify=True)
    date = DateColumn(verbose_name="Date")
    customer = tables.Column(
        verbose_name="Customer",
        accessor="customer__name",
        linkify=lambda record: record.customer.get_absolute_url(),
    )
    status = tables.Column(verbose_name="Status")

    def render_status(self, record, value):
        return format_html(
            '<span class="badge badge-{}">{}</span>',
            record.status,
            self.value_status(record, value),
        )

    def value_status(self, record, value):
        """The status as the desk names it: a refund is Pending, Released, Cancelled or
        Reversed, not Draft/Posted/Void."""
        return getattr(record, "status_label", value)


class DocumentTable(_LedgerRowTable):
    title = tables.Column(verbose_name="Type", accessor="title", orderable=False)
    description = tables.Column(verbose_name="Description")
    billing_terms = tables.Column(verbose_name="Terms")
    grand_total = MoneyColumn(verbose_name="Grand Total")
    balance_due = MoneyColumn(
        verbose_name="Balance Due", accessor="display_balance", order_by="balance_due"
    )
    due_date = DateColumn(verbose_name="Due")

    class Meta:
        model = Document
        fields = []
        sequence = [
            "number",
            "title",
            "date",
            "customer",
            "description",
            "billing_terms",
            "grand_total",
            "balance_due",
            "due_date",
            "status",
        ]
        order_by = ("-date", "-number")
        empty_text = "No invoices or credits match these filters."
        row_attrs = {"class": lambda record: "credit" if record.is_credit else ""}

    def render_title(self, record):
        return record.title

    def render_due_date(self, record, value):
        days, shown = record.days_overdue, value.strftime("%m/%d/%Y")
        if not days:
            return shown
        return format_html(
            '{} <span class="badge badge-overdue">Overdue {} day{}</span>',
            shown,
            days,
            "" if days == 1 else "s",
        )

    def value_due_date(self, record, value):
        return value  # exported as the date


class CustomerDocumentTable(DocumentTable):
    """The aACE customer-record table: number, date, title, terms, totals, due, status."""

    class Meta(DocumentTable.Meta):
        exclude = ["customer"]
        per_page = 25


class PaymentTable(_LedgerRowTable):
    kind = tables.Column(verbose_name="Type")
    method = tables.Column(verbose_name="Method")
    reference = tables.Column(verbose_name="Reference")
    amount = MoneyColumn(verbose_name="Amount", accessor="amount", order_by="grand_total")
    unapplied = MoneyColumn(verbose_name="Unapplied", accessor="balance_due", orderable=False)
    created_by = tables.Column(verbose_name="Prepared by")
    posted_by = tables.Column(verbose_name="Posted / released by")

    class Meta:
        model = Document
        fields = []
        sequence = [
            "number",
            "kind",
            "date",
            "customer",
            "method",
            "reference",
            "amount",
            "unapplied",
            "status",
            "created_by",
            "posted_by",
        ]
        order_by = ("-date", "-number")
        empty_text = "No payments or refunds match these filters."

    def render_unapplied(self, record, value):
        if record.kind != "payment" or not record.is_posted:
            return ""
        return format_money(-value)

    def value_unapplied(self, record, value):
        """The export's number: what the screen shows, as a Decimal (blank when none)."""
        if record.kind != "payment" or not record.is_posted:
            return None
        return -value


class DepositTable(_LedgerRowTable):
    method = tables.Column(verbose_name="Method")
    reference = tables.Column(verbose_name="Reference")
    amount = MoneyColumn(verbose_name="Amount")
    remaining = MoneyColumn(verbose_name="Remaining")

    class Meta:
        model = Deposit
        fields = []
        sequence = [
            "number",
            "date",
            "customer",
            "method",
            "reference",
            "amount",
            "remaining",
            "status",
        ]
        order_by = ("-date", "-number")
        empty_text = "No customer deposits match these filters."


class ToBeSentTable(_LedgerRowTable):
    """Posted documents not yet sent, each with a checkbox for "Email selected" and "Print
    selected" (the checkboxes belong to the page's `#send-form` by their `form` attribute,
    so the table can sit outside it and still be swapped by the filters)."""

    selected = tables.CheckBoxColumn(
        accessor="pk",
        attrs={
            "input": {"form": "send-form", "name": "ids", "class": "send-pick"},
            "th__input": {"id": "pick-all", "aria-label": "Select all"},
        },
        orderable=False,
        exclude_from_export=True,
    )
    title = tables.Column(verbose_name="Type", accessor="title", orderable=False)
    delivery = tables.Column(verbose_name="Delivery", accessor="customer__delivery")
    email = tables.Column(verbose_name="Billing email", accessor="customer__email")
    grand_total = MoneyColumn(verbose_name="Grand Total")
    last_send = tables.Column(
        verbose_name="Last send", accessor="last_send_status", orderable=False, default=""
    )

    class Meta:
        model = Document
        fields = []
        sequence = [
            "selected",
            "number",
            "title",
            "date",
            "customer",
            "delivery",
            "email",
            "grand_total",
            "last_send",
        ]
        exclude = ["status"]
        order_by = ("date", "number")
        empty_text = "Everything posted has been sent."

    def render_delivery(self, record):
        return record.customer.get_delivery_display()

    def render_last_send(self, record, value):
        return format_html(
            '<span class="badge badge-send-{}" title="{}">{}</span>',
            value,
            record.last_send_error or "",
            self.value_last_send(value),
        )

    def value_last_send(self, value):
        """The export's text: the badge's label, no markup."""
        return {"queued": "Queued", "sent": "Sent", "failed": "Failed"}.get(value, value)
