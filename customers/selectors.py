"""Reads of customers."""

from django.db.models import QuerySet

from customers.models import Customer


def customer_list() -> QuerySet[Customer]:
    """Customers with their A/R Balance, for the list (one query however many rows)."""
    from invoicing.selectors import ar_balance_subquery

    return Customer.objects.annotate(ar_balance=ar_balance_subquery())


def customer_get(pk: int) -> Customer:
    return Customer.objects.select_related("created_by", "updated_by").get(pk=pk)
