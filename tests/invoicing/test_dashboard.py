"""Home: today's figures with links to the queues, the live tie-out and the 12-month trend."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from invoicing.selectors import dashboard
from invoicing.selectors.aging import receivable_split
from tests.factories import (
    CustomerFactory,
    make_invoice,
    posted_deposit,
    posted_invoice,
    posted_memo,
)
from tests.helpers import client_for

pytestmark = pytest.mark.django_db
D = Decimal
HOME = reverse("home")


@pytest.fixture
def books(rep, poster):
    today = timezone.localdate()
    customer = CustomerFactory()
    kw = {"by": rep, "post_by": poster}
    posted_invoice(customer, "400.00", date=today - datetime.timedelta(days=70), **kw)  # overdue
    posted_invoice(customer, "100.00", date=today, **kw)  # not yet due
    posted_memo(customer, "30.00", date=today, **kw)
    posted_deposit(customer, "50.00", date=today, **kw)
    make_invoice(customer=customer, by=rep)  # a draft
    return customer


def test_figures_and_queues(books):
    figures = dashboard.figures(timezone.localdate())
    assert (figures.receivable, figures.overdue, figures.overdue_count) == (
        D("470.00"),
        D("400.00"),
        1,
    )
    assert (figures.credits, figures.credits_count) == (D("30.00"), 1)
    assert (figures.deposits_held, figures.drafts, figures.pending_refunds) == (D("50.00"), 1, 0)


def test_trend_splits_each_month_end_and_is_exact_after_a_change(books, rep, poster):
    today = timezone.localdate()
    points = dashboard.trend(today)
    assert len(points) == 12 and points[-1].month_end == today
    assert (points[-1].current, points[-1].overdue) == (D("70.00"), D("400.00"))
    assert receivable_split(today - datetime.timedelta(days=80)) == (D("0.00"), D("0.00"))
    posted_invoice(books, "5.00", by=rep, post_by=poster, date=today)
    assert dashboard.trend(today)[-1].current == D("75.00")  # the cache follows the books


def test_home_shows_figures_tie_out_and_chart(books, poster):
    html = client_for(poster).get(HOME).content.decode()
    assert "470.00" in html and "400.00" in html
    assert html.count("tie-out-ok") == 3 and "tie-out-off" not in html
    assert html.count('class="trend-current"') == 12
    assert reverse("invoicing:post_queue") in html  # a Poster's drafts link to the queue


def test_home_costs_the_same_queries_warm_at_any_size(rep, poster):
    client = client_for(rep)

    def count():
        client.get(HOME)  # the trend's points cached for these books
        with CaptureQueriesContext(connection) as queries:
            assert client.get(HOME).status_code == 200
        return len(queries)

    customer = CustomerFactory()
    posted_invoice(customer, "10.00", by=rep, post_by=poster)
    few = count()
    for _ in range(10):
        posted_invoice(CustomerFactory(), "10.00", by=rep, post_by=poster)
    assert count() == few <= 12
