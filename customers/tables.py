import django_tables2 as tables

from customers.models import Customer
from ledger.tables import MoneyColumn


class CustomerTable(tables.Table):
    code = tables.Column(linkify=True)
    name = tables.Column(linkify=True)
    billing_terms = tables.Column(verbose_name="Terms")
    ar_balance = MoneyColumn(verbose_name="A/R Balance")
    is_active = tables.BooleanColumn(verbose_name="Active")

    class Meta:
        model = Customer
        fields = ["code", "name", "billing_contact", "email", "phone", "billing_terms"]
        sequence = [
            "code",
            "name",
            "billing_contact",
            "email",
            "phone",
            "billing_terms",
            "ar_balance",
            "is_active",
        ]
        order_by = "name"
        empty_text = "No customers match. Clear the filters or add a customer."
