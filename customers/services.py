"""Writes to customers. Each call is one transaction and leaves an audit event."""

from django.db import transaction

from config.versioning import claim_version, refuse_if_stale
from customers.exceptions import StaleCustomerEdit
from customers.models import Customer
from ledger.services import audit_log

EDITABLE_FIELDS = [
    "code",
    "name",
    "billing_contact",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "billing_terms",
    "notes",
    "is_active",
]


@transaction.atomic
def customer_create(*, by, **fields) -> Customer:
    customer = Customer(**{k: v for k, v in fields.items() if k in EDITABLE_FIELDS})
    customer.created_by = by
    customer.updated_by = by
    customer.full_clean()
    customer.save()
    audit_log(by=by, action="customer created", target=customer, target_ref=customer.code)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, by, expected_version: int | None = None, **fields
) -> Customer:
    """Change a customer's editable fields. `expected_version` is the version the form
    loaded: a save based on an older one is refused with StaleCustomerEdit; a save that
    changes something bumps the version."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    refuse_if_stale(customer, expected_version, StaleCustomerEdit)
    changes = {}
    for name, value in fields.items():
        if name in EDITABLE_FIELDS and getattr(customer, name) != value:
            changes[name] = [str(getattr(customer, name)), str(value)]
            setattr(customer, name, value)
    if not changes:
        return customer
    claim_version(customer, expected_version, StaleCustomerEdit)
    customer.updated_by = by
    customer.full_clean()
    customer.save()
    audit_log(
        by=by, action="customer changed", target=customer, target_ref=customer.code, changes=changes
    )
    return customer
