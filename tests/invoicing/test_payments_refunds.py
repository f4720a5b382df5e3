"""Payments, overpayments and refunds: money in through posting, money out only through a Poster."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from invoicing import selectors, services
from invoicing.models import Document, DocumentKind, DocumentLine, DocumentStatus
from ledger.checks import run_all
from ledger.models import JournalEntry, SystemRole
from ledger.selectors import account_balance
from tests.factories import CustomerFactory, line, make_invoice, make_user, posted_memo
from tests.helpers import account_lines, assert_entry_lines, fresh, ledger_ok
from tests.invoicing.books import database_guards_off

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)


def pay(customer, amount, by, *, allocations=(), method="check", **kwargs):
    return services.payment_record(
        customer=customer,
        date=DAY,
        method=method,
        amount=D(amount),
        allocations=list(allocations),
        by=by,
        **kwargs,
    )


def refund_post(
    client, document, amount, method="check", action="save", key="r-1", reference="1042"
):
    return client.post(
        reverse("invoicing:payment_or_refund", args=[document.pk]),
        {
            "type": "refund",
            "method": method,
            "amount": amount,
            "reference": reference,
            "date": "2026-11-12",
            "memo": "",
            "key": key,
            "action": action,
        },
    )


# --- scenario 2 ----------------------------------------------------------------------------


def test_scenario_2_full_return_already_paid_refund_by_check(
    client, rep, poster, poster2, customer
):
    """$500 order paid; credit memo $500 posted → A/R −$500; refund by check released →
    A/R $0, Bank credited $500, memo Balance Due 0."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "2", "250.00")]
    )
    payment = pay(customer, "500.00", rep, allocations=[services.Allocation(inv, D("500.00"))])
    services.document_post(document=payment, by=poster)
    assert fresh(inv).balance_due == 0
    memo = services.credit_memo_create_from_invoice(
        invoice=inv, quantities={inv.lines.get().pk: D(2)}, reason="return", by=rep, date=DAY
    )
    memo = services.document_post(document=memo, by=poster)
    assert selectors.customer_ar_balance(customer) == D("-500.00")

    client.force_login(rep)
    response = refund_post(client, memo, "500.00")
    assert response.status_code == 302
    refund = Document.objects.get(kind=DocumentKind.REFUND)
    assert refund.status == DocumentStatus.DRAFT and refund.status_label == "Pending"
    assert fresh(memo).reserved == D("500.00")
    bank_before = account_balance(SystemRole.BANK)

    client.force_login(poster)
    assert client.post(reverse("invoicing:release", args=[refund.pk])).status_code == 302
    refund = fresh(refund)
    assert refund.status_label == "Released" and refund.posted_by == poster
    assert_entry_lines(
        fresh(refund).posting_entry,
        [
            (SystemRole.RECEIVABLE, D("500.00"), D("0")),
            (SystemRole.BANK, D("0"), D("500.00")),
        ],
    )
    assert account_balance(SystemRole.BANK) == bank_before - D("500.00")
    assert selectors.customer_ar_balance(customer) == D("0.00")
    memo = fresh(memo)
    assert memo.balance_due == 0 and memo.reserved == 0
    page = client.get(memo.get_absolute_url()).content.decode()
    assert refund.number in page and "Released" in page and "1042" in page
    ledger_ok()


# --- Method 2 -----------------------------------------------------------------------------------


def test_method_2_reduce_a_paid_draft_and_refund_by_card(client, rep, poster, poster2, customer):
    """Unposted invoice 3 × 40.00 paid 120.00; reduce to 2; "<" fills 40.00; refund by credit
    card released → Credit Card Clearing credited 40.00; posting the invoice settles it."""
    inv = make_invoice(customer=customer, by=rep, lines=[line("PRT", "3", "40.00")])
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:payment_or_refund", args=[inv.pk]),
        {
            "type": "payment",
            "amount": "120.00",
            "method": "card",
            "reference": "VISA 4242",
            "date": "2026-11-10",
            "key": "p-1",
            "action": "save",
        },
    )
    assert response.status_code == 302
    payment = Document.objects.get(kind=DocumentKind.PAYMENT)
    assert payment.earmarked_for == inv
    services.document_post(document=payment, by=poster)
    assert fresh(inv).display_balance == D("0.00")

    services.document_update_draft(document=inv, lines=[line("PRT", "2", "40.00")], by=rep)
    assert fresh(inv).display_balance == D("-40.00")
    filled = refund_post(client, inv, "", method="card", action="fill")
    assert 'value="40.00"' in filled.content.decode()
    assert refund_post(client, inv, "40.00", method="card").status_code == 302
    refund = Document.objects.get(kind=DocumentKind.REFUND)
    assert refund.refund_of == payment and refund.prepared_on == inv
    assert fresh(inv).display_balance == D("0.00")

    card_before = account_balance(SystemRole.CARD_CLEARING)
    services.refund_release(refund=refund, by=poster2, date=DAY)
    assert account_balance(SystemRole.CARD_CLEARING) == card_before - D("40.00")
    assert account_lines(fresh(refund).posting_entry, SystemRole.CARD_CLEARING) == [
        (D("0"), D("40.00"))
    ]
    inv = services.document_post(document=fresh(inv), by=poster)
    assert inv.balance_due == 0 and fresh(payment).balance_due == 0
    assert selectors.customer_ar_balance(customer) == 0
    ledger_ok()


# --- overpayment ------------------------------------------------------------------------------


def test_overpayment_leaves_an_unapplied_credit_to_apply_or_refund(rep, poster, poster2, customer):
    """1,100.00 paid on a 1,000.00 invoice leaves −100.00 unapplied, applicable to another
    invoice or refundable."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "8", "125.00")]
    )
    payment = pay(
        customer, "1100.00", rep, allocations=[services.Allocation(inv, D("1000.00"))], method="eft"
    )
    payment = services.document_post(document=payment, by=poster)
    assert_entry_lines(
        fresh(payment).posting_entry,
        [
            (SystemRole.BANK, D("1100.00"), D("0")),
            (SystemRole.RECEIVABLE, D("0"), D("1100.00")),
        ],
    )
    assert fresh(inv).balance_due == 0
    assert payment.balance_due == D("-100.00")
    assert selectors.customer_ar_balance(customer) == D("-100.00")
    inv2 = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "60.00")]
    )
    services.credit_apply(
        source=payment, allocations=[services.Allocation(inv2, D("60"))], by=rep, date=DAY
    )
    refund = services.refund_prepare(
        document=fresh(payment), amount=D("40"), method="check", date=DAY, by=rep
    )
    services.refund_release(refund=refund, by=poster2, date=DAY)
    assert fresh(payment).balance_due == 0
    assert selectors.customer_ar_balance(customer) == 0
    ledger_ok()


def test_record_payment_screen_allocates_oldest_first(client, rep, poster, customer):
    """Record Payment uses the Apply Credit rows: "Apply oldest first" fills from the amount."""
    old = make_invoice(
        customer=customer,
        by=rep,
        post_by=poster,
        date=datetime.date(2026, 9, 1),
        lines=[line("SVC", "1", "300.00")],
    )
    new = make_invoice(
        customer=customer,
        by=rep,
        post_by=poster,
        date=datetime.date(2026, 10, 1),
        lines=[line("SVC", "1", "300.00")],
    )
    client.force_login(rep)
    url = reverse("payments:create") + f"?customer={customer.pk}"
    base = {
        "amount": "450.00",
        "method": "check",
        "reference": "5521",
        "date": "2026-11-10",
        "memo": "",
        "key": "pay-1",
    }
    html = client.post(url, dict(base, action="fill"), HTTP_HX_REQUEST="true").content.decode()
    assert (
        f'name="amount_{old.pk}" value="300.00"' in html
        and f'name="amount_{new.pk}" value="150.00"' in html
    )
    response = client.post(
        url,
        dict(base, action="save", **{f"amount_{old.pk}": "300.00", f"amount_{new.pk}": "150.00"}),
    )
    payment = Document.objects.get(kind=DocumentKind.PAYMENT)
    assert response["Location"] == payment.get_absolute_url()
    client.post(url, dict(base, action="save", **{f"amount_{old.pk}": "300.00"}))  # re-sent form
    assert Document.objects.filter(kind=DocumentKind.PAYMENT).count() == 1
    services.document_post(document=payment, by=poster)
    assert (fresh(old).balance_due, fresh(new).balance_due) == (D("0.00"), D("150.00"))
    ledger_ok()


# --- permissions and four eyes -------------------------------------------------------------------


def _pending_refund(rep, poster, customer, amount="100.00"):
    memo = posted_memo(customer, amount, by=rep, post_by=poster)
    return memo, services.refund_prepare(
        document=memo, amount=D(amount), method="check", date=DAY, by=rep
    )


def test_rep_cannot_release_and_nothing_is_written(client, rep, poster, customer):
    """A rep's release attempt is 403 and writes nothing."""
    _, refund = _pending_refund(rep, poster, customer)
    client.force_login(rep)
    entries = JournalEntry.objects.count()
    assert client.post(reverse("invoicing:release", args=[refund.pk])).status_code == 403
    # The preparer may take back their own pending refund; another rep may not.
    client.force_login(make_user("A/R rep", "rep-other"))
    assert client.post(reverse("invoicing:cancel_refund", args=[refund.pk])).status_code == 403
    assert JournalEntry.objects.count() == entries and fresh(refund).is_draft
    client.force_login(rep)
    assert "Release refund" not in client.get(refund.get_absolute_url()).content.decode()


def test_four_eyes_stops_the_preparer_and_a_second_poster_releases(poster, poster2, rep, customer):
    """With four eyes on, the Poster who prepared a refund can't release it; another can."""
    memo = posted_memo(customer, "80", by=poster, post_by=poster)
    refund = services.refund_prepare(
        document=memo, amount=D("80"), method="eft", date=DAY, by=poster
    )
    with pytest.raises(ValidationError, match="another Poster must release it"):
        services.refund_release(refund=refund, by=poster)
    assert (
        services.refund_release(refund=refund, by=poster2, date=DAY).status == DocumentStatus.POSTED
    )


def test_four_eyes_can_be_switched_off(settings, poster, customer):
    settings.REFUND_FOUR_EYES = False
    memo = posted_memo(customer, "80", by=poster, post_by=poster)
    refund = services.refund_prepare(
        document=memo, amount=D("80"), method="eft", date=DAY, by=poster
    )
    assert services.refund_release(refund=refund, by=poster, date=DAY).is_posted


def test_releasing_twice_posts_once(poster2, rep, poster, customer):
    _, refund = _pending_refund(rep, poster, customer)
    services.refund_release(refund=refund, by=poster2, date=DAY)
    entries = JournalEntry.objects.count()
    with pytest.raises(ValidationError, match="already released"):
        services.refund_release(refund=refund, by=poster2, date=DAY)
    assert JournalEntry.objects.count() == entries
    ledger_ok()


def test_cancel_frees_the_reserved_credit(rep, poster, customer):
    """A pending refund holds its credit (apply is refused); cancelling frees it."""
    memo, refund = _pending_refund(rep, poster, customer, "100.00")
    inv = make_invoice(customer=customer, by=rep, post_by=poster)
    with pytest.raises(ValidationError, match="nothing open to apply"):
        services.credit_apply(
            source=fresh(memo), allocations=[services.Allocation(inv, D("10"))], by=rep, date=DAY
        )
    services.refund_cancel(refund=refund, by=poster)
    assert fresh(refund).status_label == "Cancelled" and fresh(memo).reserved == 0
    services.credit_apply(
        source=fresh(memo), allocations=[services.Allocation(inv, D("10"))], by=rep, date=DAY
    )
    ledger_ok()


def test_store_credit_is_offered_for_credits_but_not_for_deposits(client, rep, poster, customer):
    """Store Credit refunds A/R credits into a deposit; a deposit itself can't be refunded as store credit."""
    memo, _ = _pending_refund(rep, poster, customer, "50.00")
    memo2 = posted_memo(customer, "20", by=rep, post_by=poster)
    client.force_login(rep)
    html = client.get(reverse("invoicing:payment_or_refund", args=[memo2.pk])).content.decode()
    assert "Credit Card" in html and "Store Credit" in html


# --- races and re-sends -------------------------------------------------------------------------------


def test_a_resent_refund_form_creates_one_refund(client, rep, poster, customer):
    memo = posted_memo(customer, "100", by=rep, post_by=poster)
    client.force_login(rep)
    refund_post(client, memo, "60.00", key="same")
    refund_post(client, memo, "60.00", key="same")
    assert Document.objects.filter(kind=DocumentKind.REFUND).count() == 1
    assert fresh(memo).reserved == D("60.00")


def test_partial_refund_leaves_the_rest(rep, poster, poster2, customer):
    """Scenario 4's remainder: refund 100 of a partly applied 500 credit."""
    memo = posted_memo(customer, "500", by=rep, post_by=poster)
    a = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "200")])
    b = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "200")])
    services.credit_apply(
        source=memo,
        allocations=[services.Allocation(a, D("200")), services.Allocation(b, D("200"))],
        by=rep,
        date=DAY,
    )
    refund = services.refund_prepare(
        document=fresh(memo), amount=D("100"), method="check", date=DAY, by=rep
    )
    services.refund_release(refund=refund, by=poster2, date=DAY)
    assert fresh(memo).balance_due == 0
    ledger_ok()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_60_refunds_of_a_100_credit_one_succeeds():
    rep, poster = make_user("A/R rep", "rep_r"), make_user("Poster", "poster_r")
    customer = CustomerFactory()
    memo = posted_memo(customer, "100", by=rep, post_by=poster)
    barrier = threading.Barrier(2)
    results = []

    def worker(n):
        try:
            barrier.wait()
            services.refund_prepare(
                document=memo, amount=D("60"), method="check", date=DAY, by=rep, key=f"k{n}"
            )
            results.append("ok")
        except ValidationError as exc:
            results.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["That's more than the open credit of 40.00.", "ok"]
    assert fresh(memo).reserved == D("60.00")
    ledger_ok()


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "Enter a number, like 1,234.50."),
        ("1e6", "Enter a number, like 1,234.50."),
        ("0.001", "Use at most 2 decimal places."),
        ("-5", "Enter an amount above zero."),
        ("", "This field is required."),
        ("123456789012345", "That&#x27;s too large"),
        ("100.01", "more than the open credit of 100.00"),
    ],
)
def test_bad_refund_amounts_get_field_errors_and_save_nothing(
    client, rep, poster, customer, value, message
):
    memo = posted_memo(customer, "100", by=rep, post_by=poster)
    client.force_login(rep)
    response = refund_post(client, memo, value)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="id_amount_error"' in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.REFUND).exists()


@pytest.mark.parametrize("value", ["abc", "1e6", "0.001", "-5", "", "123456789012345"])
def test_bad_payment_amounts_get_field_errors_and_save_nothing(client, rep, customer, value):
    client.force_login(rep)
    url = reverse("payments:create") + f"?customer={customer.pk}"
    response = client.post(
        url,
        {"amount": value, "method": "check", "date": "2026-11-10", "key": "x", "action": "save"},
    )
    assert response.status_code == 400
    assert 'id="id_amount_error"' in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


def test_payments_and_refunds_listing_filters_and_pending_view(client, rep, poster, customer):
    _pending_refund(rep, poster, customer)
    pay(customer, "75.00", rep, reference="CHK-77")
    client.force_login(poster)
    html = client.get(reverse("payments:list")).content.decode()
    assert "CHK-77" in html and "RFD-000001" in html
    pending = client.get(
        reverse("payments:list"), {"kind": "refund", "status": "draft"}
    ).content.decode()
    assert "Pending refunds" in pending and "RFD-000001" in pending and "CHK-77" not in pending
    cards = client.get(reverse("payments:list"), {"method": "card"}).content.decode()
    assert "No payments or refunds match" in cards


def test_check_ledger_ties_payments_to_the_cash_side(rep, poster, customer):
    """A payment entry that moved the wrong cash account fails check_ledger."""
    payment = services.document_post(document=pay(customer, "50.00", rep, method="card"), by=poster)
    assert account_lines(fresh(payment).posting_entry, SystemRole.CARD_CLEARING) == [
        (D("50.00"), D("0"))
    ]
    with database_guards_off():  # PostgreSQL's trigger refuses to change a posted method
        Document.objects.filter(pk=payment.pk).update(method="check")
        assert any("moved 1000" in p for r in run_all() for p in r.problems)
        Document.objects.filter(pk=payment.pk).update(method="card")
    assert DocumentLine.objects.count() >= 0


def test_an_unapplied_payment_lists_with_the_credits_in_the_hub(client, rep, poster, customer):
    """aACE: a customer credit is any document with a negative balance, so an overpayment
    shows under Credits until it is used; a fully applied payment doesn't clutter the hub."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "100.00")]
    )
    over = services.document_post(
        document=pay(customer, "150.00", rep, allocations=[services.Allocation(inv, D("100"))]),
        by=poster,
    )
    inv2 = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "80.00")]
    )
    used = services.document_post(
        document=pay(customer, "80.00", rep, allocations=[services.Allocation(inv2, D("80"))]),
        by=poster,
    )
    client.force_login(rep)
    credits = client.get(reverse("invoicing:list"), {"type": "credits"}).content.decode()
    assert over.number in credits and used.number not in credits
    invoices = client.get(reverse("invoicing:list"), {"type": "invoices"}).content.decode()
    assert over.number not in invoices


def test_refunds_show_the_desk_status_in_every_table(client, rep, poster, customer):
    """A pending refund reads Pending (not Draft) on the customer page and in Payments &
    Refunds: every table takes the status label from the model, not the stored value."""
    _, refund = _pending_refund(rep, poster, customer)
    client.force_login(rep)
    for url in (customer.get_absolute_url(), reverse("payments:list")):
        html = client.get(url).content.decode()
        row = html[html.index(refund.number) :]
        row = row[: row.index("</tr>")]
        assert ">Pending</span>" in row, url
        assert "Draft" not in row, url
