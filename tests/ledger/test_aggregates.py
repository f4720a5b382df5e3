"""Issue 10, finding 6: sums of money come back as Decimal rounded to cents on SQLite and
PostgreSQL (ledger/aggregates.py). SQLite keeps decimals as floats and sums them as floats:
ten 0.10 invoices and a 1.00 credit sum to -1.1e-16 there, and check_ledger compared that
with the control account's 0.00 ("control 0.00 != open items 0.00")."""

import datetime
from decimal import Decimal

import pytest

from invoicing import selectors
from invoicing.models import Document, DocumentKind
from invoicing.services import document_create, document_post
from ledger import selectors as ledger_selectors
from ledger.checks import run_all
from ledger.models import Account, JournalEntry, JournalLine, SystemRole
from ledger.services import Leg, journal_entry_post
from tests.factories import line, make_invoice

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)


def problems():
    return [(r.invariant, p) for r in run_all() for p in r.problems]


def cents(value) -> bool:
    return isinstance(value, Decimal) and value.as_tuple().exponent == -2


def ten_dimes_and_a_dollar_credit(customer, rep, poster):
    """Ten posted invoices of 0.10 and a posted, unapplied credit memo of -1.00."""
    for _ in range(10):
        make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "0.10")])
    memo = document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=DAY,
        reason="goodwill",
        lines=[line("REW", "1", "-1.00")],
        by=rep,
    )
    return document_post(document=memo, by=poster)


def test_check_ledger_ties_out_amounts_whose_float_sum_is_not_zero(customer, rep, poster):
    """The subledger's open items (0.10 × 10 − 1.00) tie out with the A/R control account;
    on SQLite their float sum is −1.1e-16, which used to fail invariant 2."""
    ten_dimes_and_a_dollar_credit(customer, rep, poster)
    assert problems() == []


def test_open_item_sums_are_exact_cents(customer, rep, poster):
    ten_dimes_and_a_dollar_credit(customer, rep, poster)
    balance = selectors.customer_ar_balance(customer)
    assert balance == D("0.00") and cents(balance)
    by_customer = selectors.open_balances_by_customer()
    assert by_customer[customer.pk] == D("0.00") and cents(by_customer[customer.pk])
    listed = selectors.customer_documents(customer)
    assert all(cents(doc.earmarked_open) for doc in listed)
    from invoicing.selectors import customer_list

    row = customer_list().get(pk=customer.pk)
    assert row.ar_balance == D("0.00") and cents(row.ar_balance)


def test_account_balances_are_exact_cents(customer, rep, poster):
    ten_dimes_and_a_dollar_credit(customer, rep, poster)
    receivable = ledger_selectors.account_balances_by_customer(SystemRole.RECEIVABLE)[customer.pk]
    assert receivable == D("0.00") and cents(receivable)
    total = ledger_selectors.account_balance(SystemRole.RECEIVABLE)
    assert total == D("0.00") and cents(total)
    for row in ledger_selectors.trial_balance():
        assert cents(row["debit"]) and cents(row["credit"])


def test_an_entry_whose_legs_sum_as_floats_to_more_is_still_balanced(poster):
    """Dr 0.10 + Dr 0.20 = Cr 0.30 to the cent; as SQLite floats 0.1 + 0.2 is
    0.30000000000000004, and the balanced-entry check (a HAVING in SQL) flagged it."""
    bank, sales = Account.objects.get(code="1000"), Account.objects.get(code="4000")
    entry = journal_entry_post(
        date=DAY,
        memo="float test",
        legs=[
            Leg(account=bank, debit=D("0.10")),
            Leg(account=bank, debit=D("0.20")),
            Leg(account=sales, credit=D("0.30")),
        ],
        by=poster,
    )
    assert ledger_selectors.unbalanced_entries() == []
    assert problems() == []
    from ledger.aggregates import money_sum

    totals = JournalLine.objects.filter(entry=entry).aggregate(
        dr=money_sum("debit"), cr=money_sum("credit")
    )
    assert totals == {"dr": D("0.30"), "cr": D("0.30")}
    assert cents(totals["dr"]) and cents(totals["cr"])


def test_money_sum_is_zero_cents_over_no_rows(db):
    from ledger.aggregates import money_sum

    totals = JournalLine.objects.none().aggregate(total=money_sum("debit"))
    assert totals["total"] == D("0.00") and cents(totals["total"])
    assert JournalEntry.objects.count() == 0


def test_quantity_sum_rounds_to_four_places(customer, rep):
    make_invoice(
        customer=customer,
        by=rep,
        lines=[line("SVC", "0.1", "1.00"), line("SVC", "0.2", "1.00"), line("SVC", "-0.3", "1.00")],
    )
    from invoicing.models import DocumentLine
    from ledger.aggregates import quantity_sum

    total = DocumentLine.objects.aggregate(q=quantity_sum("quantity"))["q"]
    assert total == D("0") and total.as_tuple().exponent == -4
    assert Document.objects.count() == 1
