"""Document numbers, due dates from billing terms, and the Invoices hub: its filters and
its CSV export."""

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from customers.models import BillingTerms
from invoicing import services
from invoicing.exceptions import InvoicingError
from invoicing.models import Document, DocumentKind, DocumentSequence
from tests.factories import CustomerFactory, line, make_invoice
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

D = Decimal
HUB = "/invoices/"

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")


def make_credit_memo(*, customer, by, post_by=None, amount="250.00", date=None):
    """A standalone credit memo (scenario 5: a reward, item REW, no source invoice)."""
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=date or datetime.date(2026, 11, 2),
        lines=[line("REW", "-1", amount)],
        reason="goodwill",
        by=by,
    )
    if post_by is not None:
        memo = services.document_post(document=memo, by=post_by)
    return memo


# --- numbers -----------------------------------------------------------------------------


def test_numbers_are_sequential_per_kind(customer, rep):
    """Invoices are numbered INV-000001, INV-000002, …; credit memos CM-000001, … on their
    own sequence, whatever order they are created in."""
    first = make_invoice(customer=customer, by=rep)
    memo = make_credit_memo(customer=customer, by=rep)
    second = make_invoice(customer=customer, by=rep)
    second_memo = make_credit_memo(customer=customer, by=rep)
    third = make_invoice(customer=CustomerFactory(), by=rep)

    assert [first.number, second.number, third.number] == [
        "INV-000001",
        "INV-000002",
        "INV-000003",
    ]
    assert [memo.number, second_memo.number] == ["CM-000001", "CM-000002"]
    assert DocumentSequence.objects.get(kind=DocumentKind.INVOICE).last_number == 3
    assert DocumentSequence.objects.get(kind=DocumentKind.CREDIT_MEMO).last_number == 2


def test_a_cancelled_draft_keeps_its_number(customer, rep):
    """Cancelling a draft doesn't give its number back: the next invoice takes the next one."""
    draft = make_invoice(customer=customer, by=rep)
    services.document_cancel_draft(document=draft, by=rep)
    assert make_invoice(customer=customer, by=rep).number == "INV-000002"


def test_a_refused_document_uses_no_number(customer, rep):
    """A document the service refuses (no lines) rolls its number back with it."""
    with pytest.raises(InvoicingError, match="Add at least one line."):
        services.document_create(
            customer=customer, date=datetime.date(2026, 11, 2), lines=[], by=rep
        )
    assert make_invoice(customer=customer, by=rep).number == "INV-000001"


def test_a_line_too_large_for_its_column_is_refused(customer, rep):
    """Lines that cancel out can't smuggle an amount past the 14-digit columns."""
    with pytest.raises(InvoicingError, match="Line 1's amount is too large"):
        make_invoice(
            customer=customer,
            by=rep,
            lines=[line("PRT", "10", "999999999999.99"), line("PRT", "-10", "999999999999.99")],
        )
    assert not Document.objects.exists()


# --- due dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("terms", "due"),
    [
        (BillingTerms.DUE_ON_RECEIPT, datetime.date(2026, 11, 2)),
        (BillingTerms.NET_15, datetime.date(2026, 11, 17)),
        (BillingTerms.NET_30, datetime.date(2026, 12, 2)),
        (BillingTerms.NET_60, datetime.date(2027, 1, 1)),
    ],
)
def test_due_date_follows_the_customers_billing_terms(rep, terms, due):
    """Without terms of its own, an invoice takes its customer's terms and is due that many
    days after its date."""
    invoice = make_invoice(customer=CustomerFactory(billing_terms=terms), by=rep)
    assert invoice.billing_terms == terms
    assert invoice.due_date == due


def test_terms_chosen_on_the_invoice_override_the_customers(customer, rep):
    """Terms picked on the invoice win over the customer's Net 30."""
    invoice = make_invoice(customer=customer, by=rep, billing_terms=BillingTerms.NET_15)
    assert invoice.due_date == datetime.date(2026, 11, 17)


def test_changing_a_drafts_date_or_terms_moves_its_due_date(customer, rep):
    """Editing a draft's date or terms recomputes its due date."""
    invoice = make_invoice(customer=customer, by=rep)
    moved = services.document_update_draft(
        document=invoice, date=datetime.date(2026, 12, 31), lines=[line()], by=rep
    )
    assert moved.due_date == datetime.date(2027, 1, 30)
    retermed = services.document_update_draft(
        document=invoice, billing_terms=BillingTerms.DUE_ON_RECEIPT, lines=[line()], by=rep
    )
    assert retermed.due_date == datetime.date(2026, 12, 31)


def test_editor_with_blank_terms_uses_the_customers(rep_client, rep):
    """Leaving the editor's terms on "Customer's terms" applies the customer's Net 60."""
    customer = CustomerFactory(billing_terms=BillingTerms.NET_60)
    from invoicing.models import Item

    data = {
        "customer": customer.pk,
        "date": "2026-11-02",
        "billing_terms": "",
        "description": "",
        "action": "save",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-item": Item.objects.get(code="SVC").pk,
        "lines-0-quantity": "1",
    }
    assert rep_client.post("/invoices/new/", data).status_code == 302
    invoice = Document.objects.get()
    assert invoice.billing_terms == BillingTerms.NET_60
    assert invoice.due_date == datetime.date(2027, 1, 1)


# --- the Invoices hub --------------------------------------------------------------------


@pytest.fixture
def hub_documents(rep, poster):
    """Two customers' documents in every state the hub distinguishes."""
    alpha = CustomerFactory(name="Alpha Prints")
    beta = CustomerFactory(name="Beta Bakery")
    docs = {
        "posted_oct": make_invoice(
            customer=alpha, by=rep, date=datetime.date(2026, 10, 5), post_by=poster
        ),
        "posted_nov": make_invoice(
            customer=alpha,
            by=rep,
            date=datetime.date(2026, 11, 2),
            lines=[line("PRT", "4", "250.00", "STD")],
            post_by=poster,
        ),
        "draft": make_invoice(customer=alpha, by=rep, date=datetime.date(2026, 11, 10)),
        "voided": make_invoice(
            customer=alpha, by=rep, date=datetime.date(2026, 11, 3), post_by=poster
        ),
        "credit_memo": make_credit_memo(customer=alpha, by=rep, post_by=poster),
        "negative_draft": make_invoice(
            customer=beta,
            by=rep,
            date=datetime.date(2026, 11, 12),
            lines=[line("PRT", "1", "50.00"), line("PRT", "-1", "80.00")],
        ),
        "beta_posted": make_invoice(
            customer=beta, by=rep, date=datetime.date(2026, 9, 30), post_by=poster
        ),
    }
    services.document_void(document=docs["voided"], by=poster, date=datetime.date(2026, 11, 4))
    return {name: Document.objects.get(pk=doc.pk) for name, doc in docs.items()}, alpha, beta


def hub_numbers(client, **params) -> set[str]:
    """Document numbers the hub lists for these filters (its htmx #results fragment)."""
    response = client.get(HUB, params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="results">')
    return {doc.number for doc in Document.objects.all() if f">{doc.number}</a>" in content}


def numbers(docs, *names) -> set[str]:
    return {docs[name].number for name in names}


def test_hub_lists_invoices_and_credits_together(rep_client, hub_documents):
    """Unfiltered, the hub lists every document, credits alongside invoices."""
    docs, _, _ = hub_documents
    assert hub_numbers(rep_client) == numbers(docs, *docs)
    page = rep_client.get(HUB).content.decode()
    assert "<h1>Invoices</h1>" in page
    assert "-250.00" in page


def test_hub_open_only(rep_client, hub_documents):
    """Open only: posted documents with a balance, positive or negative; not drafts, voids."""
    docs, _, _ = hub_documents
    assert hub_numbers(rep_client, open_only="on") == numbers(
        docs, "posted_oct", "posted_nov", "credit_memo", "beta_posted"
    )


def test_hub_credits_only_and_invoices_only(rep_client, hub_documents):
    """Credits only lists credit memos and any document with a negative total (aACE's
    rule); Invoices only lists the rest."""
    docs, _, _ = hub_documents
    assert hub_numbers(rep_client, type="credits") == numbers(docs, "credit_memo", "negative_draft")
    assert hub_numbers(rep_client, type="invoices") == numbers(
        docs, "posted_oct", "posted_nov", "draft", "voided", "beta_posted"
    )
    assert "<h1>Credits</h1>" in rep_client.get(HUB, {"type": "credits"}).content.decode()


def test_hub_by_customer(rep_client, hub_documents):
    """The customer filter lists only that customer's documents."""
    docs, alpha, beta = hub_documents
    assert hub_numbers(rep_client, customer=beta.pk) == numbers(
        docs, "negative_draft", "beta_posted"
    )
    assert hub_numbers(rep_client, customer=alpha.pk) == numbers(
        docs, "posted_oct", "posted_nov", "draft", "voided", "credit_memo"
    )


def test_hub_by_date_range(rep_client, hub_documents):
    """From/To include documents dated on either bound."""
    docs, _, _ = hub_documents
    assert hub_numbers(rep_client, date_from="2026-11-02", date_to="2026-11-10") == numbers(
        docs, "posted_nov", "draft", "voided", "credit_memo"
    )
    assert hub_numbers(rep_client, date_to="2026-10-05") == numbers(
        docs, "posted_oct", "beta_posted"
    )


def test_hub_filters_combine(rep_client, hub_documents):
    """Filters narrow together: Alpha's open invoices in November."""
    docs, alpha, _ = hub_documents
    params = {
        "customer": alpha.pk,
        "open_only": "on",
        "type": "invoices",
        "date_from": "2026-11-01",
    }
    assert hub_numbers(rep_client, **params) == numbers(docs, "posted_nov")


def test_hub_with_a_bad_filter_value_shows_the_error(rep_client, hub_documents):
    """An impossible date in a filter is reported on the filter, not a 500."""
    response = rep_client.get(HUB, {"date_from": "2026-02-30"})
    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def test_csv_export_lists_the_filtered_documents(rep_client, hub_documents):
    """Export CSV downloads the hub's columns for the documents the filters select, amounts
    as plain numbers (no thousands separators, credits negative) so spreadsheets sum them."""
    docs, alpha, _ = hub_documents

    response = rep_client.get(HUB, {"export": "csv", "customer": alpha.pk, "open_only": "on"})

    assert response["Content-Disposition"].startswith('attachment; filename="invoices-')
    header, *rows = read_csv(response)
    assert header == [
        "Number",
        "Type",
        "Date",
        "Customer",
        "Description",
        "Terms",
        "Grand Total",
        "Balance Due",
        "Due",
        "Status",
    ]
    by_number = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(by_number) == numbers(docs, "posted_oct", "posted_nov", "credit_memo")
    nov = by_number[docs["posted_nov"].number]
    assert nov["Grand Total"] == "1082.50"
    assert nov["Balance Due"] == "1082.50"
    assert nov["Date"] == "2026-11-02"
    assert nov["Customer"] == "Alpha Prints"
    assert nov["Type"] == "Invoice"
    memo = by_number[docs["credit_memo"].number]
    assert (memo["Type"], memo["Grand Total"], memo["Balance Due"]) == (
        "Credit Memo",
        "-250.00",
        "-250.00",
    )


def test_csv_export_is_not_paginated(rep, rep_client, customer):
    """The export holds every matching document, not just the hub's first 25."""
    for _ in range(30):
        make_invoice(customer=customer, by=rep)
    header, *rows = read_csv(rep_client.get(HUB, {"export": "csv"}))
    assert len(rows) == 30


def test_hub_paginates_at_25(rep, rep_client, customer):
    """The hub shows 25 documents a page."""
    for _ in range(30):
        make_invoice(customer=customer, by=rep)
    assert len(hub_numbers(rep_client)) == 25
    assert len(hub_numbers(rep_client, page=2)) == 5


def test_hub_needs_a_login(client):
    """Anonymous visitors are sent to the login page."""
    response = client.get(HUB)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
