"""System accounts are found by role, not by code (issue 10, item 9, finding 16), and
moving the books-closed date is audited.

Before: an Accountant could renumber account 1100 in the admin, and every Post then
answered 500 (KeyError '1100') while check_ledger failed. Closing the books left no trace.
"""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from ledger.exceptions import SystemAccountMissing
from ledger.models import Account, AccountType, AuditEvent, LedgerSettings, NormalSide, SystemRole
from ledger.selectors import account_balance, system_account, system_accounts
from ledger.services import books_close
from tests.factories import CustomerFactory, line, make_invoice
from tests.invoicing.books import fast_password_hashing, ledger_problems  # noqa: F401

D = Decimal

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def accountant_client(client, accountant):
    client.force_login(accountant)
    return client


def change_account(client, account: Account, **data):
    """Submit the admin's change form of `account` with its current values and `data`."""
    form = {
        "code": account.code,
        "name": account.name,
        "type": account.type,
        "normal_side": account.normal_side,
        "is_active": "on" if account.is_active else "",
        "_save": "Save",
        **data,
    }
    return client.post(reverse("admin:ledger_account_change", args=[account.pk]), form)


def test_every_seeded_system_account_has_its_role(db):
    """The chart's seed gives each system account its role; the selectors find them."""
    found = system_accounts(*SystemRole.values)
    assert {role: account.code for role, account in found.items()} == {
        SystemRole.BANK: "1000",
        SystemRole.CARD_CLEARING: "1010",
        SystemRole.RECEIVABLE: "1100",
        SystemRole.DEPOSITS: "2100",
        SystemRole.SALES_TAX: "2200",
        SystemRole.SALES: "4000",
        SystemRole.SALES_RETURNS: "4100",
        SystemRole.REWARDS: "4200",
        SystemRole.WRITE_OFFS: "6900",
    }
    assert system_account(SystemRole.RECEIVABLE).name == "Accounts Receivable (control)"


def test_renumbered_and_renamed_receivable_still_posts(accountant_client, rep, poster):
    """An Accountant renumbers 1100 to 1105 and renames it in the admin; posting an invoice
    still works, its A/R leg lands on that account, and check_ledger passes."""
    receivable = system_account(SystemRole.RECEIVABLE)
    response = change_account(accountant_client, receivable, code="1105", name="Trade Receivables")
    assert response.status_code == 302, response.content.decode()[:2000]
    receivable.refresh_from_db()
    assert (receivable.code, receivable.name) == ("1105", "Trade Receivables")
    assert receivable.system_role == SystemRole.RECEIVABLE

    invoice = make_invoice(
        customer=CustomerFactory(), by=rep, lines=[line("PRT", "2", "50.00")], post_by=poster
    )

    ar_lines = invoice.posting_entry.lines.filter(debit__gt=0)
    assert [(jl.account.code, jl.debit) for jl in ar_lines] == [("1105", D("100.00"))]
    assert account_balance(SystemRole.RECEIVABLE) == D("100.00")
    assert ledger_problems() == []


def test_the_admin_keeps_roles_fixed(accountant_client):
    """The role is read-only in the admin: it can't be removed or moved from a system
    account, nor given to another account; a system account keeps its type and side."""
    receivable = system_account(SystemRole.RECEIVABLE)
    response = change_account(
        accountant_client,
        receivable,
        system_role="",
        type=AccountType.EXPENSE,
        normal_side=NormalSide.CREDIT,
    )
    assert response.status_code == 302
    receivable.refresh_from_db()
    assert receivable.system_role == SystemRole.RECEIVABLE
    assert (receivable.type, receivable.normal_side) == (AccountType.ASSET, NormalSide.DEBIT)

    other = Account.objects.create(
        code="1200", name="Other Receivable", type=AccountType.ASSET, normal_side=NormalSide.DEBIT
    )
    response = change_account(accountant_client, other, system_role=SystemRole.RECEIVABLE)
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.system_role is None
    assert system_account(SystemRole.RECEIVABLE) == receivable

    page = accountant_client.get(reverse("admin:ledger_account_change", args=[receivable.pk]))
    assert page.status_code == 200
    assert 'name="system_role"' not in page.content.decode()


def test_the_admin_refuses_to_delete_a_system_account(accountant_client, accountant):
    """Neither an Accountant nor a superuser can delete a system account in the admin."""
    receivable = system_account(SystemRole.RECEIVABLE)
    url = reverse("admin:ledger_account_delete", args=[receivable.pk])
    assert accountant_client.get(url).status_code == 403
    assert accountant_client.post(url, {"post": "yes"}).status_code == 403

    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root-123")
    accountant_client.force_login(root)
    assert accountant_client.post(url, {"post": "yes"}).status_code == 403
    assert Account.objects.filter(pk=receivable.pk, system_role=SystemRole.RECEIVABLE).exists()


def test_a_missing_role_is_named(db):
    """With no account holding a role, the selector says which role is missing (no
    KeyError deep inside posting)."""
    Account.objects.filter(system_role=SystemRole.SALES_TAX).update(system_role=None)
    with pytest.raises(SystemAccountMissing, match="Sales Tax Payable"):
        system_accounts(SystemRole.RECEIVABLE, SystemRole.SALES_TAX)


def test_closing_the_books_in_the_admin_is_audited(accountant_client, accountant):
    """Each move of the books-closed date through the admin writes an audit event naming
    who moved it, from what, to what; reopening the books too."""
    url = reverse("admin:ledger_ledgersettings_change", args=[LedgerSettings.load().pk])

    response = accountant_client.post(url, {"books_closed_through": "2026-10-31", "_save": "Save"})
    assert response.status_code == 302
    response = accountant_client.post(url, {"books_closed_through": "2026-11-15", "_save": "Save"})
    assert response.status_code == 302
    response = accountant_client.post(url, {"books_closed_through": "", "_save": "Save"})
    assert response.status_code == 302

    events = AuditEvent.objects.filter(action="books closed").order_by("pk")
    assert [(e.actor, e.detail["old"], e.detail["new"]) for e in events] == [
        (accountant, None, "2026-10-31"),
        (accountant, "2026-10-31", "2026-11-15"),
        (accountant, "2026-11-15", None),
    ]
    settings_row = LedgerSettings.load()
    assert settings_row.books_closed_through is None
    assert settings_row.closed_at is not None


def test_books_close_needs_the_permission_and_audits_only_a_change(accountant, rep):
    """Only who may change the ledger settings moves the date; saving the same date again
    writes nothing."""
    with pytest.raises(PermissionDenied):
        books_close(through=datetime.date(2026, 10, 31), by=rep)
    assert LedgerSettings.load().books_closed_through is None

    books_close(through=datetime.date(2026, 10, 31), by=accountant)
    books_close(through=datetime.date(2026, 10, 31), by=accountant)
    assert AuditEvent.objects.filter(action="books closed").count() == 1
    assert LedgerSettings.load().books_closed_through == datetime.date(2026, 10, 31)
