"""Reports → Trial Balance and an account's ledger: figures, roles, exports, bad input."""

import csv
import datetime
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ledger.models import Account, SystemRole
from tests.factories import CustomerFactory, posted_invoice, posted_memo
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
TB = reverse("reports:trial_balance")


@pytest.fixture
def books(rep, poster):
    customer = CustomerFactory()
    posted_invoice(customer, "1000.00", by=rep, post_by=poster, date=datetime.date(2026, 10, 5))
    posted_invoice(customer, "250.00", by=rep, post_by=poster, date=datetime.date(2026, 11, 5))
    posted_memo(customer, "100.00", by=rep, post_by=poster, date=datetime.date(2026, 11, 10))
    return customer


def ar():
    return Account.objects.get(system_role=SystemRole.RECEIVABLE)


def test_trial_balance_debits_equal_credits_as_of_a_date(books, poster):
    html = client_for(poster).get(TB, {"as_of": "2026-10-31"}).content.decode()
    assert "Debits 1,000.00 = credits 1,000.00 as of 10/31/2026." in html
    html = client_for(poster).get(TB, {"as_of": "2026-11-30"}).content.decode()
    assert "Debits 1,250.00 = credits 1,250.00" in html  # A/R 1,150 + returns 100
    assert f"{reverse('reports:account_ledger', args=[ar().pk])}?" in html


def test_account_ledger_runs_the_balance_and_links_documents(books, accountant):
    url = reverse("reports:account_ledger", args=[ar().pk])
    html = (
        client_for(accountant)
        .get(url, {"date_from": "2026-11-01", "date_to": "2026-11-30"})
        .content.decode()
    )
    assert "Opening balance" in html and "1,000.00" in html
    assert "1,250.00" in html and "1,150.00" in html  # after the invoice, after the memo
    assert "Closing balance 11/30/2026 · 2 lines" in html
    assert len(re.findall(r'href="/invoices/\d+/"', html)) == 2


def test_reps_may_not_read_the_ledger(books, rep):
    assert client_for(rep).get(TB).status_code == 403
    url = reverse("reports:account_ledger", args=[ar().pk])
    assert client_for(rep).get(url).status_code == 403
    assert "Trial Balance" not in client_for(rep).get(reverse("reports:aging")).content.decode()


def test_exports_carry_numbers(books, poster):
    response = client_for(poster).get(TB, {"as_of": "2026-11-30", "export": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["Account", "Name", "Debit", "Credit"]
    assert rows[-1] == ["", "Total", "1250.00", "1250.00"]
    url = reverse("reports:account_ledger", args=[ar().pk])
    response = client_for(poster).get(url, {"export": "xlsx", "date_from": "2026-01-01"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd")


@pytest.mark.parametrize(
    "url_name, query, message",
    [
        ("trial_balance", {"as_of": "31/31/2026"}, "Enter a valid date."),
        (
            "account_ledger",
            {"date_from": "2026-12-01", "date_to": "2026-11-01"},
            "before its start",
        ),
        ("account_ledger", {"date_from": "x"}, "Enter a valid date."),
    ],
)
def test_bad_dates_are_named_next_to_the_field(books, poster, url_name, query, message):
    args = [ar().pk] if url_name == "account_ledger" else []
    response = client_for(poster).get(reverse(f"reports:{url_name}", args=args), query)
    assert response.status_code == 200 and message in response.content.decode()


def test_ledger_pages_cost_the_same_queries_at_any_size(rep, poster):
    customer = CustomerFactory()
    client = client_for(poster)
    url = reverse("reports:account_ledger", args=[ar().pk])

    def count(target):
        client.get(target)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(target, {"date_from": "2026-01-01"}).status_code == 200
        return len(queries)

    posted_invoice(customer, "10.00", by=rep, post_by=poster)
    few = (count(TB), count(url))
    for _ in range(12):
        posted_invoice(customer, "10.00", by=rep, post_by=poster)
    assert (count(TB), count(url)) == few
    assert max(few) <= 8
