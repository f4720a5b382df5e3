"""factory_boy factories for the flows the tests perform."""

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config.roles import STAFF_ROLES
from customers.models import BillingTerms, Customer
from invoicing.models import DocumentKind, Item, TaxProfile
from invoicing.services import (
    LineInput,
    credit_memo_create_from_invoice,
    deposit_post,
    deposit_record,
    document_create,
    document_post,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
            if extracted in STAFF_ROLES:
                self.is_staff = True
                self.save(update_fields=["is_staff"])


def make_user(role: str | None, username: str | None = None):
    user = UserFactory(
        username=username or (role or "nobody").lower().replace("/", "").replace(" ", "_"),
        role=role,
    )
    # A fresh instance: Django caches permissions on the object it first checked.
    return get_user_model().objects.get(pk=user.pk)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    code = factory.Sequence(lambda n: f"C{n:04d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda c: f"{c.code.lower()}@example.com")
    billing_terms = BillingTerms.NET_30


def item(code: str = "PRT") -> Item:
    return Item.objects.select_related("default_tax_profile", "income_account").get(code=code)


def tax(code: str = "OUT") -> TaxProfile:
    return TaxProfile.objects.get(code=code)


def line(
    item_code="PRT", quantity="1", unit_price="100.00", tax_code="OUT", adjustment="0"
) -> LineInput:
    return LineInput(
        item=item(item_code),
        quantity=Decimal(quantity),
        unit_price=Decimal(unit_price),
        unit_adjustment=Decimal(adjustment),
        tax_profile=tax(tax_code),
    )


def make_invoice(*, customer, by, lines=None, date=None, post_by=None, **kwargs):
    """A draft invoice (or posted, when post_by is given) with simple lines."""
    doc = document_create(
        customer=customer,
        date=date or datetime.date(2026, 11, 2),
        lines=lines or [line()],
        by=by,
        **kwargs,
    )
    if post_by is not None:
        doc = document_post(document=doc, by=post_by)
    return doc


DAY = datetime.date(2026, 11, 10)


def posted_invoice(customer, amount, *, by, post_by, date=datetime.date(2026, 11, 2), item="SVC"):
    """A posted invoice of one `item` line: 1 × `amount`."""
    return make_invoice(
        customer=customer, by=by, post_by=post_by, date=date, lines=[line(item, "1", amount)]
    )


def posted_memo(customer, amount, *, by, post_by, date=DAY, item="REW", **fields):
    """A posted credit memo of one `item` line: 1 × `amount` (with the default REW item, a
    reward: a negative open item). `fields` go to document_create (reason, source_invoice…)."""
    memo = document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=date,
        lines=[line(item, "1", amount)],
        by=by,
        **fields,
    )
    return document_post(document=memo, by=post_by)


def posted_deposit(customer, amount, *, by, post_by, method="check", date=DAY):
    """A posted Customer Deposit of `amount`."""
    deposit = deposit_record(
        customer=customer, date=date, method=method, amount=Decimal(amount), by=by
    )
    return deposit_post(deposit=deposit, by=post_by)


def credit_memo_from(invoice, qty, *, by, reason="return", **fields):
    """A draft credit memo made from `invoice`, crediting `qty` of its first line.
    `fields` go to credit_memo_create_from_invoice (date, key…)."""
    first = invoice.lines.order_by("position").first()
    return credit_memo_create_from_invoice(
        invoice=invoice, quantities={first.pk: Decimal(qty)}, reason=reason, by=by, **fields
    )
