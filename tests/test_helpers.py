"""The shared journal-line helpers notice a line an entry wrote twice."""

import datetime
from decimal import Decimal

import pytest

from ledger.models import SystemRole
from ledger.selectors import system_account
from ledger.services import Leg, journal_entry_post
from tests.helpers import account_lines, assert_entry_lines, entry_lines

pytestmark = pytest.mark.django_db
D = Decimal


def doubled_entry(by):
    """Dr Bank 100 / Cr Sales 100, written twice in one entry: balanced, yet wrong."""
    bank, sales = system_account(SystemRole.BANK), system_account(SystemRole.SALES)
    legs = [Leg(account=bank, debit=D("100.00")), Leg(account=sales, credit=D("100.00"))]
    return journal_entry_post(
        date=datetime.date(2026, 11, 10), memo="doubled", legs=legs + legs, by=by
    )


def test_a_duplicated_line_fails_the_comparison(poster):
    entry = doubled_entry(poster)
    once = [(SystemRole.BANK, D("100.00"), D("0")), (SystemRole.SALES, D("0"), D("100.00"))]

    with pytest.raises(AssertionError):
        assert_entry_lines(entry, once)
    assert_entry_lines(entry, once + once)
    assert entry_lines(entry)[(SystemRole.BANK, D("100.00"), D("0"))] == 2
    assert account_lines(entry, SystemRole.BANK) == [(D("100.00"), D("0"))] * 2


def test_a_duplicated_line_fails_with_customers_too(poster):
    entry = doubled_entry(poster)
    once = [
        (SystemRole.BANK, None, D("100.00"), D("0")),
        (SystemRole.SALES, None, D("0"), D("100.00")),
    ]

    with pytest.raises(AssertionError):
        assert_entry_lines(entry, once, with_customer=True)
    assert_entry_lines(entry, once + once, with_customer=True)
