"""Reads of customers."""

from django.db.models import Q, QuerySet

from customers.models import Customer


def customer_list(*, search: str = "", active: bool | None = None) -> QuerySet[Customer]:
    qs = Customer.objects.all()
    if search:
        qs = qs.filter(
            Q(code__icontains=search) | Q(name__icontains=search) | Q(email__icontains=search)
        )
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def customer_get(pk: int) -> Customer:
    return Customer.objects.select_related("created_by", "updated_by").get(pk=pk)
