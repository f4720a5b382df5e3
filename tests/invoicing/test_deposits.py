"""Customer deposits: received before an invoice, applied later, refunded, and store credit."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from invoicing import selectors, services
from invoicing.models import Deposit, DepositApplication, DepositRefund, Document
from ledger.checks import run_all
from ledger.models import JournalEntry, SystemRole
from ledger.selectors import account_balance
from tests.factories import (
    CustomerFactory,
    line,
    make_invoice,
    make_user,
    posted_deposit,
    posted_memo,
)
from tests.helpers import assert_entry_lines, fresh, ledger_ok

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)


def test_scenario_6_deposit_apply_and_refund(client, rep, poster, poster2, customer):
    """Deposit 400 before any invoice; invoice 1,000; Apply Deposit 400 → Balance Due 600;
    a second deposit 150 refunded by card → no deposit outstanding; exact journal entries."""
    client.force_login(rep)
    response = client.post(
        reverse("deposits:create") + f"?customer={customer.pk}",
        {
            "amount": "400.00",
            "method": "check",
            "reference": "3301",
            "date": "2026-11-01",
            "memo": "",
            "key": "d-1",
        },
    )
    deposit = Deposit.objects.get()
    assert response["Location"] == deposit.get_absolute_url()
    assert not JournalEntry.objects.exists()  # nothing posts until a Poster posts it
    deposit = services.deposit_post(deposit=deposit, by=poster)
    assert_entry_lines(
        deposit.posting_entry,
        [
            (SystemRole.BANK, D("400.00"), D("0")),
            (SystemRole.DEPOSITS, D("0"), D("400.00")),
        ],
    )
    assert account_balance(SystemRole.DEPOSITS) == D("-400.00")
    assert selectors.customer_ar_balance(customer) == 0  # a deposit isn't A/R

    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, date=DAY, lines=[line("SVC", "8", "125.00")]
    )
    page = client.get(reverse("invoicing:apply_deposit", args=[inv.pk])).content.decode()
    assert 'value="400.00"' in page  # default: the lesser of remainder and Balance Due
    client.post(
        reverse("invoicing:apply_deposit", args=[inv.pk]),
        {"deposit": deposit.pk, "amount": "400.00", "date": "2026-11-10"},
    )
    inv = fresh(inv)
    assert inv.balance_due == D("600.00")
    app = DepositApplication.objects.get()
    assert_entry_lines(
        app.entry,
        [
            (SystemRole.DEPOSITS, D("400.00"), D("0")),
            (SystemRole.RECEIVABLE, D("0"), D("400.00")),
        ],
    )
    assert fresh(deposit).remaining == 0
    html = client.get(inv.get_absolute_url()).content.decode()
    assert (
        "Customer Deposit" in html and deposit.number in html and 'id="balance-due">600.00<' in html
    )

    second = posted_deposit(customer, "150.00", by=rep, post_by=poster, method="card")
    response = client.post(
        reverse("deposits:refund", args=[second.pk]),
        {
            "method": "card",
            "amount": "150.00",
            "reference": "",
            "date": "2026-11-12",
            "memo": "",
            "key": "dr-1",
            "action": "save",
        },
    )
    assert response.status_code == 302
    refund = DepositRefund.objects.get()
    assert refund.status_label == "Pending" and fresh(second).reserved == D("150.00")
    refund = services.deposit_refund_release(
        refund=refund, by=poster2, date=datetime.date(2026, 11, 12)
    )
    assert_entry_lines(
        refund.entry,
        [
            (SystemRole.DEPOSITS, D("150.00"), D("0")),
            (SystemRole.CARD_CLEARING, D("0"), D("150.00")),
        ],
    )
    assert selectors.customer_deposits_held(customer) == 0
    assert account_balance(SystemRole.DEPOSITS) == 0
    summary = client.get(customer.get_absolute_url()).content.decode()
    assert 'id="deposits-held">0.00<' in summary and second.number in summary
    ledger_ok()


def test_store_credit_refund_becomes_a_deposit_for_the_next_invoice(rep, poster, poster2, customer):
    """A 75.00 credit memo refunded as Store Credit → Customer Deposits +75.00 for that
    customer, then applied to a new invoice."""
    memo = posted_memo(customer, "75.00", by=rep, post_by=poster)
    refund = services.refund_prepare(
        document=memo, amount=D("75.00"), method="store_credit", date=DAY, by=rep
    )
    refund = services.refund_release(refund=refund, by=poster2, date=DAY)
    assert_entry_lines(
        refund.posting_entry,
        [
            (SystemRole.RECEIVABLE, D("75.00"), D("0")),
            (SystemRole.DEPOSITS, D("0"), D("75.00")),
        ],
    )
    deposit = Deposit.objects.get(source_refund=refund)
    assert deposit.remaining == D("75.00") and deposit.method == "store_credit"
    assert selectors.customer_deposits_held(customer) == D("75.00")
    assert fresh(memo).balance_due == 0
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "125.00")]
    )
    services.deposit_apply(deposit=deposit, invoice=inv, amount=D("75.00"), date=DAY, by=rep)
    assert fresh(inv).balance_due == D("50.00")
    ledger_ok()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("400.01", "More than what is left"),
        ("0", "Enter an amount above zero."),
        ("-1", "Enter an amount above zero."),
    ],
)
def test_over_application_is_refused_with_a_message(client, rep, poster, customer, amount, message):
    deposit = posted_deposit(customer, "400.00", by=rep, post_by=poster)
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "8", "125.00")]
    )
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:apply_deposit", args=[inv.pk]),
        {"deposit": deposit.pk, "amount": amount, "date": "2026-11-10"},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DepositApplication.objects.exists()


def test_more_than_the_invoice_balance_is_refused(rep, poster, customer):
    deposit = posted_deposit(customer, "400.00", by=rep, post_by=poster)
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "100.00")]
    )
    with pytest.raises(ValidationError, match="More than INV-000001's open"):
        services.deposit_apply(deposit=deposit, invoice=inv, amount=D("150"), date=DAY, by=rep)


def test_over_refund_is_refused_and_pending_refund_holds_the_deposit(rep, poster, customer):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    with pytest.raises(ValidationError, match="more than the 100.00 left"):
        services.deposit_refund_prepare(
            deposit=deposit, amount=D("100.01"), method="check", date=DAY, by=rep
        )
    services.deposit_refund_prepare(
        deposit=deposit, amount=D("60"), method="check", date=DAY, by=rep
    )
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "100.00")]
    )
    with pytest.raises(ValidationError, match="More than what is left"):
        services.deposit_apply(deposit=deposit, invoice=inv, amount=D("50"), date=DAY, by=rep)
    ledger_ok()


def test_partial_application_across_invoices_and_unapply_reverses(rep, poster, customer):
    """A deposit pays parts of several invoices; unapplying writes the reversing entry."""
    deposit = posted_deposit(customer, "500.00", by=rep, post_by=poster)
    a = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "300.00")])
    b = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "300.00")])
    services.deposit_apply(deposit=deposit, invoice=a, amount=D("300"), date=DAY, by=rep)
    app = services.deposit_apply(deposit=deposit, invoice=b, amount=D("200"), date=DAY, by=rep)
    assert fresh(deposit).remaining == 0 and fresh(b).balance_due == D("100.00")
    services.deposit_unapply(application=app, by=rep, date=DAY)
    app = fresh(app)
    assert app.removal_entry.reversal_of_id == app.entry_id
    assert fresh(deposit).remaining == D("200.00") and fresh(b).balance_due == D("300.00")
    assert selectors.open_amount_as_of(b, DAY) == D("300.00")
    ledger_ok()


def test_rep_records_and_applies_but_only_a_poster_posts_and_releases(
    client, rep, poster, customer
):
    """Reps record and apply deposits; posting a deposit and releasing its refund are 403 for them."""
    client.force_login(rep)
    deposit = services.deposit_record(
        customer=customer, date=DAY, method="check", amount=D("90"), by=rep
    )
    assert client.post(reverse("deposits:post", args=[deposit.pk])).status_code == 403
    assert "post-deposit" not in client.get(deposit.get_absolute_url()).content.decode()
    deposit = services.deposit_post(deposit=deposit, by=poster)
    refund = services.deposit_refund_prepare(
        deposit=deposit, amount=D("90"), method="eft", date=DAY, by=rep
    )
    assert client.post(reverse("deposits:refund_release", args=[refund.pk])).status_code == 403
    assert fresh(refund).status_label == "Pending"
    # four eyes: a Poster can't release a deposit refund they prepared themselves
    own = posted_deposit(customer, "10.00", by=poster, post_by=poster)
    own_refund = services.deposit_refund_prepare(
        deposit=own, amount=D("10"), method="check", date=DAY, by=poster
    )
    with pytest.raises(ValidationError, match="another Poster"):
        services.deposit_refund_release(refund=own_refund, by=poster)


@pytest.mark.parametrize("value", ["abc", "1e6", "0.001", "-5", "", "123456789012345"])
def test_bad_input_on_the_deposit_form_saves_nothing(client, rep, customer, value):
    client.force_login(rep)
    response = client.post(
        reverse("deposits:create") + f"?customer={customer.pk}",
        {"amount": value, "method": "check", "date": "2026-11-01", "key": "x"},
    )
    assert response.status_code == 400
    assert 'id="id_amount_error"' in response.content.decode()
    assert not Deposit.objects.exists()


@pytest.mark.parametrize("value", ["abc", "1e6", "0.001", "", "123456789012345"])
def test_bad_input_on_the_deposit_refund_form_saves_nothing(client, rep, poster, customer, value):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    client.force_login(rep)
    response = client.post(
        reverse("deposits:refund", args=[deposit.pk]),
        {"method": "check", "amount": value, "date": "2026-11-12", "key": "k", "action": "save"},
    )
    assert response.status_code == 400
    assert 'id="id_amount_error"' in response.content.decode()
    assert not DepositRefund.objects.exists()


def test_deposit_refund_form_fill_button_fills_the_remainder(client, rep, poster, customer):
    deposit = posted_deposit(customer, "150.00", by=rep, post_by=poster)
    client.force_login(rep)
    html = client.post(
        reverse("deposits:refund", args=[deposit.pk]),
        {"action": "fill", "key": "k", "method": "check"},
    ).content.decode()
    assert 'value="150.00"' in html


def test_a_resent_deposit_form_records_one_deposit(client, rep, customer):
    client.force_login(rep)
    url = reverse("deposits:create") + f"?customer={customer.pk}"
    data = {"amount": "50.00", "method": "cash", "date": "2026-11-01", "key": "same"}
    client.post(url, data)
    client.post(url, data)
    assert Deposit.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_applies_of_one_deposit_cannot_exceed_it():
    rep, poster = make_user("A/R rep", "rep_d"), make_user("Poster", "poster_d")
    customer = CustomerFactory()
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    invoices = [
        make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "100.00")])
        for _ in range(5)
    ]
    barrier = threading.Barrier(5)
    results = []

    def worker(inv):
        try:
            barrier.wait()
            services.deposit_apply(deposit=deposit, invoice=inv, amount=D("60"), date=DAY, by=rep)
            results.append("ok")
        except ValidationError as exc:
            results.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(inv,)) for inv in invoices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    assert fresh(deposit).remaining == D("40.00")
    ledger_ok()


def test_check_ledger_catches_a_deposit_out_of_tie(rep, poster, customer):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    Deposit.objects.filter(pk=deposit.pk).update(remaining=D("90"))
    result = next(r for r in run_all() if r.invariant == "3")
    assert not result.ok
    Deposit.objects.filter(pk=deposit.pk).update(remaining=D("100"))


def test_an_invoice_with_a_deposit_applied_cannot_be_voided(rep, poster, customer):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "100.00")]
    )
    services.deposit_apply(deposit=deposit, invoice=inv, amount=D("10"), date=DAY, by=rep)
    with pytest.raises(ValidationError, match="unapply them first"):
        services.document_void(document=inv, by=poster, date=DAY)
    assert Document.objects.get(pk=inv.pk).is_posted
