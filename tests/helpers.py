"""Plain helpers the tests share: reading documents and journal entries back and checking
the books. Builders of documents live in tests/factories.py, pytest fixtures in the
conftest.py files (and the opt-in ones in tests/invoicing/books.py)."""

import datetime
from collections import Counter

from django.test import Client
from django.utils import timezone

from ledger.checks import run_all
from ledger.models import JournalEntry, LedgerSettings


def ledger_problems() -> list[str]:
    """What `check_ledger` would report as failing, one line per problem."""
    return [
        f"invariant {result.invariant} ({result.title}): {problem}"
        for result in run_all()
        for problem in result.problems
    ]


def ledger_ok() -> None:
    """`check_ledger` passes."""
    problems = ledger_problems()
    assert not problems, "check_ledger fails:\n" + "\n".join(problems)


def fresh(obj):
    """The row of `obj` as the database has it now (a new instance, nothing cached)."""
    return type(obj).objects.get(pk=obj.pk)


def first_line(doc):
    return doc.lines.order_by("position").first()


def client_for(user) -> Client:
    """A test client of its own, logged in as `user`."""
    client = Client()
    client.force_login(user)
    return client


def entry_lines(entry: JournalEntry, *, with_customer: bool = False) -> Counter:
    """An entry's lines as (account role, or code if it has none, [customer id,] debit,
    credit), counted: a line the entry holds twice counts 2, so comparing with what the
    entry should hold (`assert_entry_lines`) notices a duplicated line."""
    return Counter(
        (
            (jl.account.system_role or jl.account.code, jl.customer_id, jl.debit, jl.credit)
            if with_customer
            else (jl.account.system_role or jl.account.code, jl.debit, jl.credit)
        )
        for jl in entry.lines.select_related("account")
    )


def assert_entry_lines(entry: JournalEntry, expected, *, with_customer: bool = False) -> None:
    """The entry holds exactly the lines `expected` (tuples as `entry_lines` makes them),
    each as many times as listed: no line missing, extra or written twice."""
    assert entry_lines(entry, with_customer=with_customer) == Counter(expected)


def account_lines(entry: JournalEntry, account: str) -> list[tuple]:
    """(debit, credit) of each of the entry's lines on `account` (role or code)."""
    return [(dr, cr) for acct, dr, cr in entry_lines(entry).elements() if acct == account]


def today() -> datetime.date:
    return timezone.localdate()


def close_books(through: datetime.date) -> None:
    """Close the books through `through` (nothing may be dated on or before it)."""
    row = LedgerSettings.load()
    row.books_closed_through = through
    row.save()
