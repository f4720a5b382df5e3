"""Writes to customers. Each call is one transaction and leaves an audit event."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from config.roles import Action, require
from config.versioning import claim_version, refuse_if_stale
from customers.exceptions import StaleCustomerEdit
from customers.models import Customer
from ledger.idempotency import run_once
from ledger.services import AuditAction, audit_log

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
    "delivery",
    "notes",
    "is_active",
]


@transaction.atomic
def customer_create(*, by, key: str = "", **fields) -> Customer:
    """Create a customer; `key` makes a re-sent form create it once."""
    require(by, Action.EDIT_CUSTOMERS)
    return run_once(
        key=key, scope="customer_create", by=by, work=lambda: _customer_create(by, fields)
    )


def _customer_create(by, fields) -> Customer:
    customer = Customer(**{k: v for k, v in fields.items() if k in EDITABLE_FIELDS})
    customer.created_by = by
    customer.updated_by = by
    _validate_and_save(customer)
    audit_log(by=by, action=AuditAction.CUSTOMER_CREATED, target=customer, target_ref=customer.code)
    return customer


@transaction.atomic
def customer_update(
    *, customer: Customer, by, expected_version: int | None = None, **fields
) -> Customer:
    """Change a customer's editable fields. `expected_version` is the version the form
    loaded: a save based on an older one is refused with StaleCustomerEdit; a save that
    changes something bumps the version."""
    require(by, Action.EDIT_CUSTOMERS)
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
    _validate_and_save(customer)
    audit_log(
        by=by,
        action=AuditAction.CUSTOMER_CHANGED,
        target=customer,
        target_ref=customer.code,
        changes=changes,
    )
    return customer


def _validate_and_save(customer: Customer) -> None:
    """Validate and save `customer`. The unique code is checked by full_clean, but another
    request may take the code between that check and the save: that IntegrityError is
    reported as the same ValidationError on `code`."""
    customer.full_clean()
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        raise ValidationError(
            {"code": "A customer with this code already exists."}, code="unique"
        ) from None
