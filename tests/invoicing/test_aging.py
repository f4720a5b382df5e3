"""A/R aging as of a date: hand-computed figures for three customers at two dates, the
same open amounts as the recomputation from totals, and the tie-out with A/R control."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from invoicing import services
from invoicing.allocator import Allocation
from invoicing.selectors import computed_open_amounts
from invoicing.selectors.aging import Buckets, aging_items, aging_summary, open_amounts_as_of
from ledger.models import SystemRole
from ledger.selectors import account_balance
from tests.factories import CustomerFactory, posted_deposit, posted_invoice, posted_memo
from tests.invoicing.books import books_stay_balanced  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("books_stay_balanced")]
D = Decimal
NOV_30, OCT_31 = datetime.date(2026, 11, 30), datetime.date(2026, 10, 31)


def _payment(customer, amount, date, *, rep, poster):
    payment = services.payment_record(
        customer=customer, by=rep, date=date, method="check", amount=D(amount)
    )
    return services.document_post(document=payment, by=poster)


def _apply(source, target, amount, date, *, rep):
    return services.credit_apply(
        source=source, allocations=[Allocation(target, D(amount))], by=rep, date=date
    )


@pytest.fixture
def books(rep, poster):
    """Three customers (Net 30) whose open items differ on Oct 31 and Nov 30."""
    a, b, c = (CustomerFactory(code=code) for code in ("AGE-A", "AGE-B", "AGE-C"))
    kw = {"by": rep, "post_by": poster}
    # A: an old invoice paid in part late in November; a newer one with a credit on it.
    a1 = posted_invoice(a, "1000.00", date=datetime.date(2026, 7, 15), **kw)  # due Aug 14
    a2 = posted_invoice(a, "500.00", date=datetime.date(2026, 10, 20), **kw)  # due Nov 19
    a3 = posted_memo(a, "200.00", date=datetime.date(2026, 11, 5), **kw)
    _apply(a3, a2, "200.00", datetime.date(2026, 11, 6), rep=rep)
    pay_a = _payment(a, "300.00", datetime.date(2026, 11, 25), rep=rep, poster=poster)
    _apply(pay_a, a1, "300.00", datetime.date(2026, 11, 25), rep=rep)
    # B: an invoice paid in part in November; a payment nobody applied (a credit).
    b1 = posted_invoice(b, "400.00", date=datetime.date(2026, 9, 10), **kw)  # due Oct 10
    pay_b = _payment(b, "250.00", datetime.date(2026, 11, 10), rep=rep, poster=poster)
    _apply(pay_b, b1, "250.00", datetime.date(2026, 11, 10), rep=rep)
    _payment(b, "100.00", datetime.date(2026, 10, 1), rep=rep, poster=poster)
    # C: a deposit applied in November, an invoice voided in November, a credit applied
    # in October and unapplied in November.
    c1 = posted_invoice(c, "800.00", date=datetime.date(2026, 10, 1), **kw)  # due Oct 31
    deposit = posted_deposit(c, "300.00", date=datetime.date(2026, 9, 20), **kw)
    services.deposit_apply(
        deposit=deposit, invoice=c1, amount=D("300.00"), by=rep, date=datetime.date(2026, 11, 2)
    )
    c2 = posted_invoice(c, "250.00", date=datetime.date(2026, 10, 5), **kw)  # due Nov 4
    services.document_void(document=c2, by=poster, date=datetime.date(2026, 11, 15))
    c3 = posted_memo(c, "120.00", date=datetime.date(2026, 10, 10), **kw)
    (application,) = _apply(c3, c1, "120.00", datetime.date(2026, 10, 12), rep=rep)
    services.credit_unapply(application=application, by=rep, date=datetime.date(2026, 11, 20))
    return a, b, c


def _by_code(page):
    return {row.code: (row.buckets, row.total) for row in page.rows}


def test_aging_as_of_two_dates_matches_the_hand_computed_figures(books):
    nov = aging_summary(NOV_30)
    assert nov.labels == ["Current", "1–30", "31–60", "61–90", "Over 90"]
    assert _by_code(nov) == {
        # a1 1,000 − 300 paid = 700, 108 days; a2 500 − 200 credit = 300, 11 days.
        "AGE-A": ([D("0.00"), D("300.00"), D("0.00"), D("0.00"), D("700.00")], D("1000.00")),
        # b1 400 − 250 = 150, 51 days; the unapplied 100 payment ages from Oct 1: 60 days.
        "AGE-B": ([D("0.00"), D("0.00"), D("50.00"), D("0.00"), D("0.00")], D("50.00")),
        # c1 800 − 300 deposit = 500, 30 days; the unapplied credit −120 from Oct 10.
        "AGE-C": ([D("0.00"), D("500.00"), D("-120.00"), D("0.00"), D("0.00")], D("380.00")),
    }
    assert nov.totals == [D("0.00"), D("800.00"), D("-70.00"), D("0.00"), D("700.00")]
    assert (nov.total, nov.customers) == (D("1430.00"), 3)

    octo = aging_summary(OCT_31)
    assert _by_code(octo) == {
        # Nothing of November yet: a1 whole, 78 days; a2 not yet due.
        "AGE-A": ([D("500.00"), D("0.00"), D("0.00"), D("1000.00"), D("0.00")], D("1500.00")),
        "AGE-B": ([D("0.00"), D("300.00"), D("0.00"), D("0.00"), D("0.00")], D("300.00")),
        # c1 due today, with the credit still on it (680); c2 not voided yet (250).
        "AGE-C": ([D("930.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00")], D("930.00")),
    }
    assert octo.totals == [D("1430.00"), D("300.00"), D("0.00"), D("1000.00"), D("0.00")]
    assert octo.total == D("2730.00")


@pytest.mark.parametrize("as_of", [OCT_31, NOV_30, datetime.date(2026, 11, 14)])
def test_aging_ties_out_with_the_control_account_and_the_recomputation(books, as_of):
    assert aging_summary(as_of).total == account_balance(SystemRole.RECEIVABLE, as_of=as_of)
    recomputed = {pk: amount for pk, amount in computed_open_amounts(as_of=as_of).items() if amount}
    assert open_amounts_as_of(as_of) == recomputed


def test_detail_lists_each_open_document_with_its_days_overdue(books):
    a, _, c = books
    rows = aging_items(NOV_30, customer_ids=[c.pk])
    assert [(r.open_amount, r.days_overdue, r.bucket) for r in rows] == [
        (D("-120.00"), 51, 2),  # c3, aged from its own date Oct 10 (oldest first)
        (D("500.00"), 30, 1),  # c1, aged from its due date Oct 31
    ]
    assert [r.days_overdue for r in aging_items(OCT_31, customer_ids=[a.pk])] == [78, 0]


def test_filters_credits_only_and_over_n_days(books):
    assert [r.code for r in aging_summary(NOV_30, over_days=90).rows] == ["AGE-A"]
    assert [r.code for r in aging_summary(NOV_30, over_days=31).rows] == ["AGE-A", "AGE-B"]
    assert aging_summary(NOV_30, credits_only=True).rows == []
    _, b, _ = books
    page = aging_summary(NOV_30, customer_ids=[b.pk])
    assert [r.code for r in page.rows] == ["AGE-B"] and page.total == D("50.00")


def test_buckets_are_configurable():
    buckets = Buckets((15, 45))
    assert buckets.labels == ["Current", "1–15", "16–45", "Over 45"]
    assert [buckets.index(d) for d in (-3, 0, 1, 15, 16, 45, 46)] == [0, 0, 1, 1, 2, 2, 3]


def test_a_page_of_the_summary_is_one_query_with_its_totals(books):
    with CaptureQueriesContext(connection) as queries:
        page = aging_summary(NOV_30, limit=2, offset=1)
    assert len(queries) == 1
    assert [r.code for r in page.rows] == ["AGE-B", "AGE-C"]
    assert (page.customers, page.total) == (3, D("1430.00"))
    past_the_end = aging_summary(NOV_30, offset=10)
    assert (past_the_end.rows, past_the_end.total) == ([], D("1430.00"))
