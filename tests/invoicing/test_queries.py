"""Pages cost a fixed number of queries however many rows they show (convention 10): the
Invoices hub, the invoice page and the customer page, with 5 and with 100 rows."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from invoicing import services
from invoicing.models import DocumentKind
from tests.factories import CustomerFactory, line, make_invoice
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")


def count_queries(client, url, **params) -> int:
    client.get(url, params)  # warm caches (content types, session) outside the count
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def add_documents(n, *, customers, rep, poster):
    """n documents of mixed kinds and states spread over the customers."""
    for i in range(n):
        customer = customers[i % len(customers)]
        date = datetime.date(2026, 10, 1) + datetime.timedelta(days=i % 60)
        if i % 5 == 4:
            memo = services.document_create(
                kind=DocumentKind.CREDIT_MEMO,
                customer=customer,
                date=date,
                lines=[line("REW", "-1", "25.00")],
                by=rep,
            )
            services.document_post(document=memo, by=poster)
        else:
            make_invoice(
                customer=customer,
                by=rep,
                date=date,
                lines=[line("PRT", "2", "250.00", "STD"), line("SVC", "1", "125.00")],
                post_by=poster if i % 3 else None,
            )


@pytest.mark.parametrize(
    "params",
    [{}, {"open_only": "on", "type": "invoices"}],
    ids=["unfiltered", "filtered"],
)
def test_hub_query_count_does_not_grow_with_documents(rep, poster, rep_client, params):
    """The hub's first page costs the same queries with 5 documents as with 100."""
    customers = [CustomerFactory() for _ in range(4)]
    add_documents(5, customers=customers, rep=rep, poster=poster)
    with_5 = count_queries(rep_client, reverse("invoicing:list"), **params)

    add_documents(95, customers=customers, rep=rep, poster=poster)
    with_100 = count_queries(rep_client, reverse("invoicing:list"), **params)

    assert with_100 == with_5


def test_hub_fragment_query_count_does_not_grow_with_documents(rep, poster, client):
    """The htmx #results fragment of the hub is also fixed-cost."""
    client.force_login(rep)
    customers = [CustomerFactory() for _ in range(3)]
    add_documents(5, customers=customers, rep=rep, poster=poster)

    def fragment_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("invoicing:list"), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        return len(ctx.captured_queries)

    fragment_queries()
    with_5 = fragment_queries()
    add_documents(95, customers=customers, rep=rep, poster=poster)
    assert fragment_queries() == with_5


def test_customer_page_query_count_does_not_grow_with_documents(rep, poster, rep_client):
    """A customer's page (summary and their documents) costs the same with 5 or 100."""
    customer = CustomerFactory()
    add_documents(5, customers=[customer], rep=rep, poster=poster)
    with_5 = count_queries(rep_client, customer.get_absolute_url())

    add_documents(95, customers=[customer], rep=rep, poster=poster)
    with_100 = count_queries(rep_client, customer.get_absolute_url())

    assert with_100 == with_5


def test_invoice_page_query_count_does_not_grow_with_lines(customer, rep, poster, rep_client):
    """An invoice's page, with its lines and its posting and void entries, costs the same
    with 5 lines as with 100."""
    items = ["PRT", "SVC", "SHIP"]

    def invoice_with(n):
        lines = [
            line(items[i % 3], str(i + 1), "10.00", "STD" if i % 2 else "OUT") for i in range(n)
        ]
        invoice = make_invoice(customer=customer, by=rep, lines=lines, post_by=poster)
        return services.document_void(document=invoice, by=poster, date=datetime.date(2026, 11, 5))

    small, large = invoice_with(5), invoice_with(100)
    assert large.lines.count() == 100

    assert count_queries(rep_client, large.get_absolute_url()) == count_queries(
        rep_client, small.get_absolute_url()
    )


def test_invoice_page_query_count_does_not_grow_with_other_documents(rep, poster, rep_client):
    """An invoice's page doesn't read other documents: its cost is the same whether its
    customer has 5 or 100 documents."""
    customer = CustomerFactory()
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    add_documents(4, customers=[customer], rep=rep, poster=poster)
    with_5 = count_queries(rep_client, invoice.get_absolute_url())

    add_documents(95, customers=[customer], rep=rep, poster=poster)
    assert count_queries(rep_client, invoice.get_absolute_url()) == with_5
