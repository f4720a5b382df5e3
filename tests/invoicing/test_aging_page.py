"""Reports → A/R Aging, the page: figures, tie-out line, drill-down, exports, bad input."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory, posted_invoice, posted_memo
from tests.helpers import client_for
from tests.invoicing.test_aging import books  # noqa: F401 - the three customers' books

pytestmark = pytest.mark.django_db
URL = reverse("reports:aging")


def test_the_summary_shows_buckets_totals_and_a_green_tie_out(books, rep):  # noqa: F811
    client = client_for(rep)
    response = client.get(URL, {"as_of": "2026-11-30"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Ties out: aging total 1,430.00 = A/R control account 1,430.00" in html
    assert html.count('<tr class="credit">') == 0  # nobody is owed money overall
    for label in ("Current", "1–30", "31–60", "61–90", "Over 90"):
        assert f">{label}</th>" in html
    assert "-70.00" in html and "700.00" in html  # the 31–60 and Over 90 totals


def test_drill_down_lists_a_customers_documents(books, rep):  # noqa: F811
    _, _, c = books
    response = client_for(rep).get(URL, {"as_of": "2026-11-30", "customer_id": c.pk})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("/invoices/") >= 2 and "-120.00" in html and "500.00" in html
    assert "Total (2 open)" in html


def test_csv_export_has_the_rows_and_the_totals_as_numbers(books, rep):  # noqa: F811
    response = client_for(rep).get(URL, {"as_of": "2026-11-30", "export": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "Customer code",
        "Customer",
        "Current",
        "1–30",
        "31–60",
        "61–90",
        "Over 90",
        "Total",
    ]
    assert rows[-1][1:] == ["Total", "0.00", "800.00", "-70.00", "0.00", "700.00", "1430.00"]
    detail = client_for(rep).get(
        URL, {"as_of": "2026-11-30", "customer_id": books[2].pk, "export": "xlsx"}
    )
    assert detail.status_code == 200 and detail["Content-Type"].startswith("application/vnd")


@pytest.mark.parametrize(
    "query, field_error",
    [
        ({"as_of": "2026-13-45"}, "Enter a valid date."),
        ({"buckets": "60, 30"}, "Give the edges in increasing order, each once."),
        ({"buckets": "thirty"}, "Enter whole numbers of days"),
        ({"buckets": "0"}, "Each edge is between 1 and"),
        ({"over_days": "-4"}, "greater than or equal to 0"),
    ],
)
def test_bad_input_is_named_next_to_the_field(rep, query, field_error):
    response = client_for(rep).get(URL, query)
    assert response.status_code == 200
    assert field_error in response.content.decode()


def test_filters_credits_only_and_customer_search(rep, poster):
    owed, credit = CustomerFactory(code="OWE", name="Owes Us"), CustomerFactory(code="CRD")
    posted_invoice(owed, "100.00", by=rep, post_by=poster)
    posted_memo(credit, "40.00", by=rep, post_by=poster)
    client = client_for(rep)
    html = client.get(URL, {"credits_only": "on"}).content.decode()
    assert "CRD" in html and "OWE</span>" not in html and "(filtered)" in html
    assert "Ties out: aging total 60.00" in html  # the tie-out is always the whole A/R
    html = client.get(URL, {"customer": "owes"}).content.decode()
    assert "OWE</span>" in html and "CRD</span>" not in html


def test_the_page_costs_the_same_queries_at_3_and_60_customers(rep, poster):
    def count():
        client = client_for(rep)
        client.get(URL)  # session and user warmed up
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"as_of": "2026-11-30"}).status_code == 200
        return len(queries)

    for i in range(3):
        posted_invoice(CustomerFactory(), "10.00", by=rep, post_by=poster)
    few = count()
    for i in range(57):
        posted_invoice(CustomerFactory(), "10.00", by=rep, post_by=poster)
    assert count() == few <= 8
    html = client_for(rep).get(URL, {"as_of": "2026-11-30"}).content.decode()
    assert "60 customers" in html and 'rel="next"' in html
    page2 = client_for(rep).get(URL, {"as_of": "2026-11-30", "page": "2"}).content.decode()
    assert page2.count("<tbody>") == 1 and 'rel="prev"' in page2


def test_a_date_before_any_document_says_nothing_was_open(books, rep):  # noqa: F811
    response = client_for(rep).get(URL, {"as_of": "2020-01-01", "page": "x"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was open on 01/01/2020." in html
    assert "Ties out: aging total 0.00 = A/R control account 0.00" in html
