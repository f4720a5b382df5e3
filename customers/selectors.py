"""Reads of customers. The list with A/R balances is invoicing's (invoicing.selectors.customer_list)."""

from customers.models import Customer


def customer_get(pk: int) -> Customer:
    return Customer.objects.select_related("created_by", "updated_by").get(pk=pk)
