"""Regression tests for what the random-operations test (tests/test_random_operations.py)
found, each reduced to its minimal reproduction through the services."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from invoicing import services
from invoicing.models import Document
from tests.factories import CustomerFactory, line, make_invoice
from tests.helpers import fresh, ledger_problems

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)


def test_memo_made_from_an_invoice_stays_with_the_invoices_customer(rep, poster, customer):
    """Editing a draft credit memo made from customer A's invoice could move it to customer
    B: B got a credit "for" A's invoice (and A's invoice stayed blocked by B's memo)."""
    invoice = make_invoice(customer=customer, by=rep, post_by=poster, date=DAY)
    memo = services.credit_memo_create_from_invoice(
        invoice=invoice,
        quantities={invoice.lines.get().pk: D("0.5")},
        reason="return",
        by=rep,
        date=DAY,
    )
    other = CustomerFactory()

    with pytest.raises(ValidationError) as refused:
        services.document_update_draft(
            document=memo, by=rep, customer=other, lines=[line("REW", "1", "10.00")]
        )

    assert "customer" in refused.value.message_dict
    assert fresh(memo).customer_id == customer.pk
    assert Document.objects.get(pk=memo.pk).grand_total == memo.grand_total
    assert not ledger_problems()


def test_credit_memo_is_made_from_a_posted_invoice_only(rep, customer):
    """A credit memo could be made from a draft invoice (crediting a sale never booked).
    Cancelling that memo and then editing the draft answered 500: the cancelled memo's
    lines still pointed at the draft's lines (ProtectedError on delete)."""
    invoice = make_invoice(customer=customer, by=rep, date=DAY)
    before = Document.objects.count()

    with pytest.raises(ValidationError, match="posted invoices"):
        services.credit_memo_create_from_invoice(
            invoice=invoice,
            quantities={invoice.lines.get().pk: D("1")},
            reason="return",
            by=rep,
            date=DAY,
        )

    assert Document.objects.count() == before
    edited = services.document_update_draft(
        document=invoice, by=rep, lines=[line("SVC", "1", "10.00")]
    )
    assert edited.grand_total == D("10.00")
    assert not ledger_problems()
