"""Overdue: invoices past due say so in the lists and on their page; the hub filters them."""

import csv
import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory, make_invoice, posted_invoice, posted_memo
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs(rep, poster):
    today = timezone.localdate()
    customer = CustomerFactory(code="LATE")
    kw = {"by": rep, "post_by": poster}
    late = posted_invoice(customer, "100.00", date=today - datetime.timedelta(days=45), **kw)
    fresh = posted_invoice(customer, "50.00", date=today, **kw)
    memo = posted_memo(customer, "20.00", date=today - datetime.timedelta(days=90), **kw)
    draft = make_invoice(customer=customer, by=rep, date=today - datetime.timedelta(days=60))
    return late, fresh, memo, draft


def test_days_overdue_only_for_posted_documents_still_owed(docs):
    late, fresh, memo, draft = docs
    assert late.days_overdue == 15  # Net 30: due 15 days ago
    assert (fresh.days_overdue, memo.days_overdue, draft.days_overdue) == (0, 0, 0)


def test_hub_shows_and_filters_overdue(docs, rep):
    late, fresh, _, _ = docs
    client = client_for(rep)
    html = client.get(reverse("invoicing:list")).content.decode()
    assert html.count("Overdue 15 days") == 1
    html = client.get(reverse("invoicing:list"), {"overdue": "on"}).content.decode()
    assert late.number in html and fresh.number not in html
    export = client.get(reverse("invoicing:list"), {"overdue": "on", "export": "csv"})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and "Overdue" not in ",".join(rows[1])  # the due date, as a date


def test_document_and_customer_pages_say_overdue(docs, rep):
    late, fresh, _, _ = docs
    client = client_for(rep)
    assert "Overdue 15 days" in client.get(late.get_absolute_url()).content.decode()
    assert "Overdue" not in client.get(fresh.get_absolute_url()).content.decode()
    customer_page = client.get(late.customer.get_absolute_url()).content.decode()
    assert "Overdue 15 days" in customer_page
