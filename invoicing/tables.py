import django_tables2 as tables
from django.utils.html import format_html

from invoicing.models import Document
from ledger.tables import MoneyColumn


class DocumentTable(tables.Table):
    number = tables.Column(verbose_name="Number", linkify=True)
    title = tables.Column(verbose_name="Type", accessor="title", orderable=False)
    date = tables.DateColumn(verbose_name="Date", format="m/d/Y")
    customer = tables.Column(
        verbose_name="Customer",
        accessor="customer__name",
        linkify=lambda record: record.customer.get_absolute_url(),
    )
    description = tables.Column(verbose_name="Description")
    billing_terms = tables.Column(verbose_name="Terms")
    grand_total = MoneyColumn(verbose_name="Grand Total")
    balance_due = MoneyColumn(
        verbose_name="Balance Due", accessor="display_balance", order_by="balance_due"
    )
    due_date = tables.DateColumn(verbose_name="Due", format="m/d/Y")
    status = tables.Column(verbose_name="Status")

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

    def render_status(self, record, value):
        return format_html('<span class="badge badge-{}">{}</span>', record.status, value)

    def value_status(self, record, value):
        return value

    def render_title(self, record):
        return record.title


class CustomerDocumentTable(DocumentTable):
    """The aACE customer-record table: number, date, title, terms, totals, due, status."""

    class Meta(DocumentTable.Meta):
        exclude = ["customer"]
        per_page = 25
