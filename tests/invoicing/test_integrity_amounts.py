"""Issue 10, findings 5, 11 and 13: cents never leak.

- The credit memo line that takes the last of an invoice line's quantity gets exactly what
  remains of its amount and tax; no memo credits more than remains; invariant 5 compares
  amounts as well as quantities.
- Every money-taking service validates amounts (exact, at most 2 decimal places) and
  quantities (at most 4), whoever calls it.
- Every money and quantity field of every form takes ASCII digits only.
"""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from invoicing import selectors, services
from invoicing.models import (
    Application,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentLine,
    Item,
    TaxProfile,
)
from ledger.checks import run_all
from tests.factories import credit_memo_from, line, make_invoice, posted_deposit, posted_memo
from tests.helpers import first_line, fresh
from tests.invoicing.books import books_stay_balanced, fast_password_hashing  # noqa: F401

pytestmark = pytest.mark.usefixtures("fast_password_hashing", "books_stay_balanced")
D = Decimal
DAY = datetime.date(2026, 11, 10)
ASCII_MESSAGE = "Type the number with the digits 0-9, like 1,234.50."


def invariant(number):
    return next(r for r in run_all() if r.invariant == number and "credit" in r.title.lower())


# --- finding 5: partial credit memos ---------------------------------------------------------


def test_two_half_memos_of_a_10_01_line_credit_exactly_10_01(customer, rep, poster):
    """1 × 10.01, credited 0.5 and 0.5: 5.01 then the rest, 5.00 — not 5.01 twice, which
    left the customer at −0.01 after the invoice was fully credited."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "10.01")])
    first = credit_memo_from(inv, "0.5", by=rep, date=DAY)
    second = credit_memo_from(inv, "0.5", by=rep, date=DAY)
    assert first.grand_total == D("-5.01")
    assert second.grand_total == D("-5.00")
    services.document_post(document=first, by=poster)
    services.document_post(document=second, by=poster)
    assert selectors.customer_ar_balance(customer) == D("0.00")
    assert selectors.over_credited_lines() == []


def test_the_last_memo_takes_what_remains_of_the_tax_too(customer, rep, poster):
    """1 × 10.01 at 8.25 % (tax 0.83) in thirds: 3.34 + 0.28 twice, then 3.33 + 0.27 —
    the memos add up to the invoice to the cent, amount and tax."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "10.01", "STD")]
    )
    src = first_line(inv)
    assert (src.extended_amount, src.tax_amount) == (D("10.01"), D("0.83"))
    memos = [credit_memo_from(inv, q, by=rep, date=DAY) for q in ("0.3333", "0.3333", "0.3334")]
    memo_lines = [first_line(m) for m in memos]
    assert [(m.extended_amount, m.tax_amount) for m in memo_lines] == [
        (D("-3.34"), D("-0.28")),
        (D("-3.34"), D("-0.28")),
        (D("-3.33"), D("-0.27")),
    ]
    assert sum(m.grand_total for m in memos) == -inv.grand_total
    for memo in memos:
        services.document_post(document=memo, by=poster)
    assert selectors.customer_ar_balance(customer) == D("0.00")


def test_a_partial_memo_never_credits_more_than_remains(customer, rep, poster):
    """1 × 0.02 in quarters: 0.005 rounds up to 0.01, so two quarters credit all of it;
    a third quarter would credit nothing and is refused (a memo needs a total below zero),
    where it used to credit a cent more than was invoiced."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "0.02")])
    assert credit_memo_from(inv, "0.25", by=rep, date=DAY).grand_total == D("-0.01")
    assert credit_memo_from(inv, "0.25", by=rep, date=DAY).grand_total == D("-0.01")
    with pytest.raises(ValidationError, match="total below zero"):
        credit_memo_from(inv, "0.25", by=rep, date=DAY)
    assert Document.objects.filter(kind=DocumentKind.CREDIT_MEMO).count() == 2
    assert selectors.over_credited_lines() == []


def test_editing_the_last_memo_recomputes_what_remains(customer, rep, poster):
    """A draft memo edited from a half to the last half of the line takes the remainder."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "10.01")])
    credit_memo_from(inv, "0.5", by=rep, date=DAY)
    second = credit_memo_from(inv, "0.25", by=rep, date=DAY)
    assert second.grand_total == D("-2.50")
    second = services.credit_memo_update_from_invoice(
        memo=second, quantities={first_line(inv).pk: D("0.5")}, reason="return", by=rep, date=DAY
    )
    assert fresh(second).grand_total == D("-5.00")


def test_a_voided_memo_gives_its_amount_back(customer, rep, poster):
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "10.01")])
    first = credit_memo_from(inv, "0.5", by=rep, date=DAY)
    services.document_cancel_draft(document=first, by=rep)
    assert credit_memo_from(inv, "0.5", by=rep, date=DAY).grand_total == D("-5.01")
    assert credit_memo_from(inv, "0.5", by=rep, date=DAY).grand_total == D("-5.00")


def test_a_memo_from_an_invoice_with_a_discount_line_credits_the_net(customer, rep, poster):
    """100.00 less a 5.00 discount line, credited in full, is −95.00: the discount line is
    reversed (a positive memo line), not credited a second time (−105.00)."""
    inv = make_invoice(
        customer=customer,
        by=rep,
        post_by=poster,
        lines=[line("SVC", "1", "100.00"), line("SVC", "1", "-5.00")],
    )
    lines = list(inv.lines.order_by("position"))
    memo = services.credit_memo_create_from_invoice(
        invoice=inv,
        quantities={lines[0].pk: D("1"), lines[1].pk: D("1")},
        reason="return",
        by=rep,
        date=DAY,
    )
    assert memo.grand_total == D("-95.00")
    assert sorted(ln.extended_amount for ln in memo.lines.all()) == [D("-100.00"), D("5.00")]
    assert [r.remaining for r in selectors.creditable_lines(inv)] == [D("0"), D("0")]
    services.document_post(document=memo, by=poster)
    assert selectors.customer_ar_balance(customer) == D("0.00")


def test_check_ledger_catches_a_line_credited_beyond_its_amount(customer, rep, poster):
    """Invariant 5 compares amounts as well as quantities: two half memos of 10.01 that
    credit 5.01 each pass the quantity test but credit 10.02."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "10.01")])
    credit_memo_from(inv, "0.5", by=rep, date=DAY)
    second = credit_memo_from(inv, "0.5", by=rep, date=DAY)
    DocumentLine.objects.filter(document=second).update(extended_amount=D("-5.01"))
    result = invariant("5")
    assert not result.ok
    assert any(
        "credited amount 10.02" in p and "invoiced amount 10.01" in p for p in result.problems
    )
    DocumentLine.objects.filter(document=second).update(extended_amount=D("-5.00"))
    assert invariant("5").ok


def test_check_ledger_catches_a_line_credited_beyond_its_tax(customer, rep, poster):
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "10.00", "STD")]
    )
    memo = credit_memo_from(inv, "1", by=rep, date=DAY)
    DocumentLine.objects.filter(document=memo).update(tax_amount=D("-0.84"))
    result = invariant("5")
    assert any("credited tax 0.84" in p for p in result.problems), result.problems
    DocumentLine.objects.filter(document=memo).update(tax_amount=D("-0.83"))


# --- finding 11: services validate amounts and quantities ------------------------------------


BAD_AMOUNTS = [
    (D("10.005"), "Use at most 2 decimal places."),
    (10.5, "An amount must be an exact decimal, not a float."),
    (D("NaN"), "Enter a number, like 1,234.50."),
    ("١٢", ASCII_MESSAGE),
]


@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_deposit_record_refuses_inexact_amounts(customer, rep, amount, message):
    """A deposit of 10.005 was 10.00 on SQLite and 10.01 on PostgreSQL."""
    with pytest.raises(ValidationError) as exc:
        services.deposit_record(customer=customer, date=DAY, method="check", amount=amount, by=rep)
    assert exc.value.message_dict["amount"] == [message]
    assert not Deposit.objects.exists()


@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_payment_record_refuses_inexact_amounts(customer, rep, amount, message):
    with pytest.raises(ValidationError) as exc:
        services.payment_record(customer=customer, date=DAY, method="check", amount=amount, by=rep)
    assert exc.value.message_dict["amount"] == [message]
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


def test_payment_record_refuses_inexact_allocations(customer, rep, poster):
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    with pytest.raises(ValidationError) as exc:
        services.payment_record(
            customer=customer,
            date=DAY,
            method="check",
            amount=D("50.00"),
            allocations=[services.Allocation(document=inv, amount=D("10.005"))],
            by=rep,
        )
    assert exc.value.message_dict[f"amount_{inv.pk}"] == ["Use at most 2 decimal places."]
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_refund_prepare_refuses_inexact_amounts(customer, rep, poster, amount, message):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    with pytest.raises(ValidationError) as exc:
        services.refund_prepare(document=memo, amount=amount, method="check", date=DAY, by=rep)
    assert exc.value.message_dict["amount"] == [message]
    assert not Document.objects.filter(kind=DocumentKind.REFUND).exists()
    assert fresh(memo).reserved == 0


@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_deposit_apply_refuses_inexact_amounts(customer, rep, poster, amount, message):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    with pytest.raises(ValidationError) as exc:
        services.deposit_apply(deposit=deposit, invoice=inv, amount=amount, by=rep, date=DAY)
    assert exc.value.message_dict["amount"] == [message]
    assert not DepositApplication.objects.exists()


@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_deposit_refund_prepare_refuses_inexact_amounts(customer, rep, poster, amount, message):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    with pytest.raises(ValidationError) as exc:
        services.deposit_refund_prepare(
            deposit=deposit, amount=amount, method="check", date=DAY, by=rep
        )
    assert exc.value.message_dict["amount"] == [message]
    assert not DepositRefund.objects.exists()


@pytest.mark.parametrize(("amount", "message"), BAD_AMOUNTS)
def test_credit_apply_refuses_inexact_allocations(customer, rep, poster, amount, message):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    with pytest.raises(ValidationError) as exc:
        services.credit_apply(
            source=memo,
            allocations=[services.Allocation(document=inv, amount=amount)],
            by=rep,
            date=DAY,
        )
    assert exc.value.message_dict[f"amount_{inv.pk}"] == [message]
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("quantity", D("1.00001"), "Line 1: Use at most 4 decimal places."),
        ("quantity", 1.5, "Line 1: A quantity must be an exact decimal, not a float."),
        ("unit_price", D("10.005"), "Line 1: Use at most 2 decimal places."),
        ("unit_price", D("NaN"), "Line 1: Enter a number, like 1,234.50."),
        ("unit_adjustment", D("0.001"), "Line 1: Use at most 2 decimal places."),
    ],
)
def test_document_services_refuse_inexact_lines(customer, rep, field, value, message):
    """A unit price of 10.005 was stored 10.00 on SQLite (half-even) while its line was
    priced at 10.01; quantities beyond 4 places were rounded by the database."""
    from dataclasses import replace

    bad = replace(line("SVC", "1", "10.00"), **{field: value})
    with pytest.raises(ValidationError) as exc:
        services.document_create(customer=customer, date=DAY, lines=[bad], by=rep)
    assert exc.value.message_dict[field] == [message]
    assert not Document.objects.exists()
    draft = make_invoice(customer=customer, by=rep)
    with pytest.raises(ValidationError) as exc:
        services.document_update_draft(document=draft, lines=[bad], by=rep)
    assert exc.value.message_dict[field] == [message]
    assert first_line(fresh(draft)).unit_price == D("100.00")


# --- finding 13: every money and quantity form field takes ASCII digits only -----------------

OTHER_DIGITS = ["٣", "１２", "1٢.50"]


def editor_data(customer, *, date="2026-11-10", **row):
    values = {
        "item": str(Item.objects.get(code="SVC").pk),
        "description": "",
        "quantity": "1",
        "unit_price": "10.00",
        "unit_adjustment": "",
        "tax_profile": str(TaxProfile.objects.get(code="OUT").pk),
    }
    values.update(row)
    data = {
        "customer": str(customer.pk),
        "date": date,
        "billing_terms": "",
        "description": "",
        "reason": "return",
        "note": "",
        "action": "save",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
    }
    data.update({f"lines-0-{k}": v for k, v in values.items()})
    return data


@pytest.mark.parametrize("typed", OTHER_DIGITS)
@pytest.mark.parametrize("field", ["quantity", "unit_price", "unit_adjustment"])
@pytest.mark.parametrize("url_name", ["invoicing:create", "invoicing:create_credit_memo"])
def test_editor_line_fields_take_ascii_digits_only(rep_client, customer, url_name, field, typed):
    response = rep_client.post(reverse(url_name), editor_data(customer, **{field: typed}))
    assert response.status_code == 400
    assert ASCII_MESSAGE in response.content.decode()
    assert not Document.objects.exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_credit_from_invoice_quantity_takes_ascii_digits_only(
    rep_client, rep, poster, customer, typed
):
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "5", "10")])
    ln = first_line(inv)
    response = rep_client.post(
        reverse("invoicing:credit_from_invoice", args=[inv.pk]),
        {"reason": "return", "date": "2026-11-10", f"include_{ln.pk}": "on", f"qty_{ln.pk}": typed},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_qty_{ln.pk}_error"' in html and ASCII_MESSAGE in html
    assert not Document.objects.filter(kind=DocumentKind.CREDIT_MEMO).exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_apply_credit_amounts_take_ascii_digits_only(rep_client, rep, poster, customer, typed):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    response = rep_client.post(
        reverse("invoicing:apply", args=[memo.pk]),
        {"date": "2026-11-20", "key": "k-1", "action": "apply", f"amount_{inv.pk}": typed},
    )
    assert response.status_code == 400
    assert ASCII_MESSAGE in response.content.decode()
    assert not Application.objects.exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
@pytest.mark.parametrize("field", ["amount", "allocation"])
def test_record_payment_amounts_take_ascii_digits_only(client, rep, poster, customer, field, typed):
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    data = {
        "amount": "50.00",
        "method": "check",
        "date": "2026-11-10",
        "key": "p",
        "action": "save",
    }
    if field == "amount":
        data["amount"] = typed
    else:
        data[f"amount_{inv.pk}"] = typed
    client.force_login(rep)
    response = client.post(reverse("payments:create") + f"?customer={customer.pk}", data)
    assert response.status_code == 400
    assert ASCII_MESSAGE in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_payment_on_an_invoice_takes_ascii_digits_only(client, rep, poster, customer, typed):
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:payment_or_refund", args=[inv.pk]),
        {
            "type": "payment",
            "amount": typed,
            "method": "check",
            "date": "2026-11-10",
            "key": "p",
            "action": "save",
        },
    )
    assert response.status_code == 400
    assert 'id="id_amount_error"' in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.PAYMENT).exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_refund_amount_takes_ascii_digits_only(client, rep, poster, customer, typed):
    memo = posted_memo(customer, "-100.00", by=rep, post_by=poster, reason="goodwill")
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:payment_or_refund", args=[memo.pk]),
        {
            "type": "refund",
            "method": "check",
            "amount": typed,
            "reference": "",
            "date": "2026-11-12",
            "memo": "",
            "key": "r",
            "action": "save",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_amount_error"' in html and ASCII_MESSAGE in html
    assert not Document.objects.filter(kind=DocumentKind.REFUND).exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_deposit_amount_takes_ascii_digits_only(client, rep, customer, typed):
    client.force_login(rep)
    response = client.post(
        reverse("deposits:create") + f"?customer={customer.pk}",
        {"amount": typed, "method": "check", "date": "2026-11-01", "key": "d"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_amount_error"' in html and ASCII_MESSAGE in html
    assert not Deposit.objects.exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_deposit_refund_amount_takes_ascii_digits_only(client, rep, poster, customer, typed):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    client.force_login(rep)
    response = client.post(
        reverse("deposits:refund", args=[deposit.pk]),
        {"method": "check", "amount": typed, "date": "2026-11-12", "key": "k", "action": "save"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_amount_error"' in html and ASCII_MESSAGE in html
    assert not DepositRefund.objects.exists()


@pytest.mark.parametrize("typed", OTHER_DIGITS)
def test_apply_deposit_amount_takes_ascii_digits_only(client, rep, poster, customer, typed):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster)
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "50")])
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:apply_deposit", args=[inv.pk]),
        {"deposit": deposit.pk, "amount": typed, "date": "2026-11-10", "key": "ad"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_amount_error"' in html and ASCII_MESSAGE in html
    assert not DepositApplication.objects.exists()
