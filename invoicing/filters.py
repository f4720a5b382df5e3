import django_filters
from django import forms
from django.utils import timezone

from customers.models import Delivery
from customers.selectors import customer_match_q
from customers.widgets import CustomerSearchInput
from invoicing.models import DocumentKind, DocumentStatus, PaymentMethod
from invoicing.selectors import CREDIT_Q


class CustomerSearchFilter(django_filters.CharFilter):
    """The rows of the customer typed — a code, part of a name, or an id from a link
    (`customers.selectors.customer_match_q`) — in the autocomplete field. Costs no query
    of its own (the listing's query joins the customer), so a listing never reads every
    customer to draw its filter."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Customer")
        kwargs.setdefault("widget", CustomerSearchInput())
        super().__init__(max_length=100, **kwargs)

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        return qs.filter(customer_match_q(value, self.field_name))


def _customer_filter():
    return CustomerSearchFilter(field_name="customer")


def _date_filter(lookup: str, label: str):
    return django_filters.DateFilter(
        field_name="date",
        lookup_expr=lookup,
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class DocumentFilter(django_filters.FilterSet):
    customer = _customer_filter()
    type = django_filters.ChoiceFilter(
        label="Type",
        choices=[("invoices", "Invoices only"), ("credits", "Credits only")],
        method="filter_type",
        empty_label="Invoices and credits",
    )
    status = django_filters.ChoiceFilter(choices=DocumentStatus.choices, empty_label="Any status")
    date_from = _date_filter("gte", "From")
    date_to = _date_filter("lte", "To")
    open_only = django_filters.BooleanFilter(
        label="Open only", method="filter_open", widget=forms.CheckboxInput
    )
    overdue = django_filters.BooleanFilter(
        label="Overdue only", method="filter_overdue", widget=forms.CheckboxInput
    )
    q = django_filters.CharFilter(label="Number", field_name="number", lookup_expr="icontains")

    def filter_overdue(self, queryset, name, value):
        if value:
            return queryset.filter(
                status=DocumentStatus.POSTED, balance_due__gt=0, due_date__lt=timezone.localdate()
            )
        return queryset

    def filter_type(self, queryset, name, value):
        if value == "credits":
            return queryset.filter(CREDIT_Q)
        if value == "invoices":
            return queryset.exclude(CREDIT_Q)
        return queryset

    def filter_open(self, queryset, name, value):
        if value:
            return queryset.filter(status=DocumentStatus.POSTED).exclude(balance_due=0)
        return queryset


class PaymentFilter(django_filters.FilterSet):
    customer = _customer_filter()
    kind = django_filters.ChoiceFilter(
        label="Type",
        choices=[(DocumentKind.PAYMENT, "Payments"), (DocumentKind.REFUND, "Refunds")],
        empty_label="Payments and refunds",
    )
    method = django_filters.ChoiceFilter(choices=PaymentMethod.choices, empty_label="Any method")
    status = django_filters.ChoiceFilter(
        choices=[
            ("draft", "Draft / Pending"),
            ("posted", "Posted / Released"),
            ("void", "Void / Cancelled"),
        ],
        empty_label="Any status",
    )
    date_from = _date_filter("gte", "From")
    date_to = _date_filter("lte", "To")


class DepositFilter(django_filters.FilterSet):
    customer = _customer_filter()
    status = django_filters.ChoiceFilter(choices=DocumentStatus.choices, empty_label="Any status")
    method = django_filters.ChoiceFilter(choices=PaymentMethod.choices, empty_label="Any method")
    with_remainder = django_filters.BooleanFilter(
        label="Remaining only", method="filter_remaining", widget=forms.CheckboxInput
    )

    def filter_remaining(self, queryset, name, value):
        return queryset.filter(remaining__gt=0) if value else queryset


class ToBeSentFilter(django_filters.FilterSet):
    """The To Be Sent list: customer, how the customer wants documents, kind, dates."""

    customer = _customer_filter()
    delivery = django_filters.ChoiceFilter(
        field_name="customer__delivery", choices=Delivery.choices, empty_label="Email and print"
    )
    kind = django_filters.ChoiceFilter(
        label="Type",
        choices=[c for c in DocumentKind.choices if c[0] != DocumentKind.DEPOSIT],
        empty_label="Any type",
    )
    date_from = _date_filter("gte", "From")
    date_to = _date_filter("lte", "To")
