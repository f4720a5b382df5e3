"""Credit memos: from an invoice (Spectra Method 1), standalone (aACE), from the customer."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from invoicing import selectors, services
from invoicing.exceptions import OverCredit, PostedDocumentLocked
from invoicing.models import Document, DocumentKind, DocumentLine
from ledger.checks import run_all
from ledger.models import JournalEntry, SystemRole
from ledger.selectors import account_balance
from tests.factories import CustomerFactory, credit_memo_from, line, make_invoice, make_user
from tests.helpers import assert_entry_lines, first_line, ledger_ok

pytestmark = pytest.mark.django_db
D = Decimal


# --- worked scenarios of ledger/ACCOUNTING.md ------------------------------------------------------


def test_scenario_1_partial_return_memo_half(rep, poster, customer):
    """INV-001 $1,000; a $300 credit memo from it, posted: the customer's A/R falls to $700."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "10", "100.00")]
    )
    memo = credit_memo_from(inv, "3", by=rep)
    assert memo.grand_total == D("-300.00") and memo.kind == DocumentKind.CREDIT_MEMO
    assert memo.source_invoice == inv and memo.title == "Credit Memo"
    memo = services.document_post(document=memo, by=poster)
    assert selectors.customer_ar_balance(customer) == D("700.00")
    memo.refresh_from_db()
    assert memo.balance_due == D("-300.00")
    assert_entry_lines(
        memo.posting_entry,
        [
            (SystemRole.SALES_RETURNS, D("300.00"), D("0")),
            (SystemRole.RECEIVABLE, D("0"), D("300.00")),
        ],
    )
    ledger_ok()


def test_scenario_3_price_dispute_memo_half(rep, poster, customer):
    """INV-001 $800 and INV-002 $300; a $200 price-adjustment memo from INV-001 → owes $900."""
    inv1 = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "800.00")]
    )
    make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("SVC", "1", "300.00")])
    # A price adjustment credits the price difference: a standalone-style line on the memo.
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=datetime.date(2026, 11, 5),
        source_invoice=inv1,
        reason="price_adjustment",
        lines=[line("SVC", "1", "200.00")],
        by=rep,
    )
    memo = services.document_post(document=memo, by=poster)
    assert memo.grand_total == D("-200.00")
    assert selectors.customer_ar_balance(customer) == D("900.00")
    ledger_ok()


def test_scenario_5_standalone_reward_credit(rep, poster):
    """aACE: a standalone memo REW 1 × −250.00, tax OUT → customer A/R −250.00, listed with invoices."""
    msd = CustomerFactory(code="MSD", name="Montboro School District")
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=msd,
        date=datetime.date(2023, 6, 1),
        description="Credit memo to extend Spring 2023 promotion.",
        lines=[line("REW", "1", "-250.00", "OUT")],
        by=rep,
    )
    memo = services.document_post(document=memo, by=poster)
    assert selectors.customer_ar_balance(msd) == D("-250.00")
    assert_entry_lines(
        memo.posting_entry,
        [
            (SystemRole.REWARDS, D("250.00"), D("0")),
            (SystemRole.RECEIVABLE, D("0"), D("250.00")),
        ],
    )
    ln = first_line(memo)
    assert (ln.quantity, ln.unit_price, ln.extended_amount) == (D("1"), D("-250.00"), D("-250.00"))
    ledger_ok()


def test_partial_quantity_taxed_credit_writes_its_exact_entry(rep, poster, customer):
    """2 of 5 units at 250.00 with 8.25% tax → −500.00 − 41.25 = −541.25; Dr 4100 500, Dr 2200 41.25, Cr A/R 541.25."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "250.00", "STD")]
    )
    memo = credit_memo_from(inv, "2", by=rep)
    ln = first_line(memo)
    assert ln.quantity == D("-2") and ln.source_line == first_line(inv)
    assert (memo.subtotal, memo.tax_total, memo.grand_total) == (
        D("-500.00"),
        D("-41.25"),
        D("-541.25"),
    )
    memo = services.document_post(document=memo, by=poster)
    assert_entry_lines(
        memo.posting_entry,
        [
            (SystemRole.SALES_RETURNS, D("500.00"), D("0")),
            (SystemRole.SALES_TAX, D("41.25"), D("0")),
            (SystemRole.RECEIVABLE, D("0"), D("541.25")),
        ],
    )
    assert account_balance(SystemRole.RECEIVABLE) == D("1353.13") - D("541.25")
    ledger_ok()


def test_memo_copies_the_invoice_line_rate_even_if_the_profile_changed(rep, poster, customer):
    """A credit gives back the tax that was charged, not today's rate."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "100.00", "STD")]
    )
    from invoicing.models import TaxProfile

    TaxProfile.objects.filter(code="STD").update(rate=D("10"))
    memo = credit_memo_from(inv, "1", by=rep)
    assert memo.tax_total == D("-8.25")


# --- over-credit ------------------------------------------------------------------------------


def test_second_memo_over_the_remaining_quantity_is_refused(rep, poster, customer):
    """Memos of one invoice can never credit more of a line than was invoiced; nothing is saved."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    credit_memo_from(inv, "3", by=rep)
    before = Document.objects.count()
    with pytest.raises(OverCredit) as exc:
        credit_memo_from(inv, "3", by=rep)
    assert "Only 2 of line 1 (PRT) can still be credited." in str(exc.value)
    assert Document.objects.count() == before
    assert [r.remaining for r in selectors.creditable_lines(inv)] == [D("2")]
    ledger_ok()


def test_voided_memo_frees_its_quantity(rep, poster, customer):
    """A void memo no longer counts against the invoice's quantities."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    memo = credit_memo_from(inv, "5", by=rep)
    services.document_cancel_draft(document=memo, by=rep)
    assert credit_memo_from(inv, "5", by=rep).grand_total == D("-50.00")


def test_over_credit_through_the_form_shows_the_error_next_to_the_row(
    rep_client, rep, poster, customer
):
    """The form refuses more than the line's remaining quantity, beside that row; nothing saved."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    credit_memo_from(inv, "4", by=rep)
    ln = first_line(inv)
    response = rep_client.post(
        reverse("invoicing:credit_from_invoice", args=[inv.pk]),
        {"reason": "return", "date": "2026-11-10", f"include_{ln.pk}": "on", f"qty_{ln.pk}": "2"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_qty_{ln.pk}_error"' in html
    assert "Only 1 can still be credited on this line." in html
    assert Document.objects.filter(kind=DocumentKind.CREDIT_MEMO).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reps_crediting_the_last_3_units_at_once_one_wins():
    """Two threads credit the last 3 units of a line together: one memo is made, one is refused."""
    rep = make_user("A/R rep", "rep_race")
    poster = make_user("Poster", "poster_race")
    inv = make_invoice(
        customer=CustomerFactory(), by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")]
    )
    credit_memo_from(inv, "2", by=rep)
    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            barrier.wait()
            credit_memo_from(inv, "3", by=rep)
            results.append("ok")
        except OverCredit as exc:
            results.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["Only 0 of line 1 (PRT) can still be credited.", "ok"]
    assert selectors.over_credited_lines() == []
    ledger_ok()


# --- permissions and locking ------------------------------------------------------------------


def test_rep_creates_and_edits_draft_memos_but_cannot_post(rep_client, rep, poster, customer):
    """A rep makes and edits a draft memo; the post URL is 403 for them and nothing is written."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    ln = first_line(inv)
    url = reverse("invoicing:credit_from_invoice", args=[inv.pk])
    page = rep_client.get(url).content.decode()
    assert f'name="qty_{ln.pk}" value="5"' in page  # prefilled with all that is creditable
    response = rep_client.post(
        url,
        {"reason": "return", "date": "2026-11-10", f"include_{ln.pk}": "on", f"qty_{ln.pk}": "2"},
    )
    memo = Document.objects.get(kind=DocumentKind.CREDIT_MEMO)
    assert response["Location"] == memo.get_absolute_url()
    edit = reverse("invoicing:edit", args=[memo.pk])
    rep_client.post(
        edit,
        {"reason": "goodwill", "date": "2026-11-10", f"include_{ln.pk}": "on", f"qty_{ln.pk}": "4"},
    )
    memo.refresh_from_db()
    assert memo.grand_total == D("-40.00") and memo.reason == "goodwill"
    entries = JournalEntry.objects.count()
    assert rep_client.post(reverse("invoicing:post", args=[memo.pk])).status_code == 403
    assert JournalEntry.objects.count() == entries
    assert "Post</a>" not in rep_client.get(memo.get_absolute_url()).content.decode()


def test_a_posted_memo_cannot_be_edited(rep_client, rep, poster, customer):
    """The service and the edit screen both refuse to change a posted memo."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster)
    memo = services.document_post(document=credit_memo_from(inv, "1", by=rep), by=poster)
    with pytest.raises(PostedDocumentLocked):
        services.credit_memo_update_from_invoice(
            memo=memo, quantities={first_line(inv).pk: D("1")}, reason="return", by=rep
        )
    response = rep_client.get(reverse("invoicing:edit", args=[memo.pk]), follow=True)
    assert "Posted credit memos can&#x27;t be changed" in response.content.decode()


def test_a_credited_invoice_cannot_be_changed_or_voided_while_its_memos_live(rep, poster, customer):
    """A posted invoice with a live memo can't be voided (the memo points at its lines); a
    draft invoice takes no memo at all (ledger/ACCOUNTING.md: memos are made from posted invoices),
    so a memo never pins a draft's lines (tests/invoicing/test_random_findings.py)."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    credit_memo_from(inv, "1", by=rep)
    with pytest.raises(ValidationError, match="has credit memos"):
        services.document_void(document=inv, by=poster)
    draft = make_invoice(customer=customer, by=rep, lines=[line("PRT", "5", "10.00")])
    with pytest.raises(ValidationError, match="posted invoices"):
        credit_memo_from(draft, "1", by=rep)


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        ("abc", "Enter a number, like 1,234.50."),
        ("-1", "Enter the quantity as a positive number"),
        ("1.00001", "Use at most 4 decimal places."),
        ("1e6", "Enter a number, like 1,234.50."),
        ("123456789012345", "That&#x27;s too large"),
        ("", "Enter a quantity to credit, or untick the line."),
    ],
)
def test_bad_quantities_get_field_errors_and_save_nothing(
    rep_client, rep, poster, customer, qty, message
):
    """Letters, negatives, too many decimals, exponents, huge or empty: an error beside the row."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    ln = first_line(inv)
    response = rep_client.post(
        reverse("invoicing:credit_from_invoice", args=[inv.pk]),
        {"reason": "return", "date": "2026-11-10", f"include_{ln.pk}": "on", f"qty_{ln.pk}": qty},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.CREDIT_MEMO).exists()


def test_missing_reason_and_nothing_ticked_are_refused(rep_client, rep, poster, customer):
    inv = make_invoice(customer=customer, by=rep, post_by=poster)
    response = rep_client.post(
        reverse("invoicing:credit_from_invoice", args=[inv.pk]), {"date": "2026-11-10"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in html
    response = rep_client.post(
        reverse("invoicing:credit_from_invoice", args=[inv.pk]),
        {"reason": "return", "date": "2026-11-10"},
    )
    assert "Tick at least one line" in response.content.decode()
    assert not Document.objects.filter(kind=DocumentKind.CREDIT_MEMO).exists()


# --- standalone and from the customer --------------------------------------------------------


def test_standalone_memo_through_the_editor_stores_negative_lines(rep_client, customer):
    """A memo typed with positive amounts is stored negative (Spectra enters them negative)."""
    response = rep_client.post(
        reverse("invoicing:create_credit_memo"),
        {
            "customer": customer.pk,
            "date": "2026-11-10",
            "description": "Goodwill for late delivery",
            "reason": "goodwill",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-item": _item_pk("REW"),
            "lines-0-quantity": "1",
            "lines-0-unit_price": "75.00",
            "action": "save",
        },
    )
    memo = Document.objects.get(kind=DocumentKind.CREDIT_MEMO)
    assert response.status_code == 302
    assert memo.grand_total == D("-75.00") and memo.number == "CM-000001"
    assert first_line(memo).quantity == D("-1")


def test_a_memo_must_total_below_zero(rep, customer):
    with pytest.raises(ValidationError, match="below zero"):
        services.document_create(
            kind=DocumentKind.CREDIT_MEMO,
            customer=customer,
            date=datetime.date(2026, 11, 1),
            lines=[line("REW", "1", "0")],
            by=rep,
        )


def test_customer_page_offers_new_credit_memo_and_its_invoices(rep_client, rep, poster, customer):
    """From the customer record: New Credit Memo opens the standalone form for that customer
    and lists their invoices to credit from."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster)
    page = rep_client.get(customer.get_absolute_url()).content.decode()
    url = reverse("invoicing:create_credit_memo") + f"?customer={customer.pk}"
    assert url in page.replace("&amp;", "&")
    form = rep_client.get(url).content.decode()
    assert f'<option value="{customer.pk}" selected>' in form
    assert reverse("invoicing:credit_from_invoice", args=[inv.pk]) in form


# --- display --------------------------------------------------------------------------------------


def test_negative_total_displays_as_credit_memo_whichever_way_made(
    rep_client, rep, poster, customer
):
    """aACE: an invoice lowered below zero (Method 2) shows and lists as a Credit Memo."""
    inv = make_invoice(
        customer=customer, by=rep, lines=[line("PRT", "1", "100.00"), line("PRT", "-2", "100.00")]
    )
    assert inv.kind == DocumentKind.INVOICE and inv.grand_total == D("-100.00")
    html = rep_client.get(inv.get_absolute_url()).content.decode()
    assert f"Credit Memo {inv.number}" in html
    credits = rep_client.get(reverse("invoicing:list"), {"type": "credits"}).content.decode()
    assert inv.number in credits


def test_memo_page_shows_source_reason_lines_and_balance(rep_client, rep, poster, customer):
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "5", "10.00")])
    memo = services.document_post(
        document=credit_memo_from(inv, "2", by=rep, reason="price_adjustment"), by=poster
    )
    html = rep_client.get(memo.get_absolute_url()).content.decode()
    assert f"Credit Memo {memo.number}" in html
    assert inv.number in html and "Price adjustment" in html
    assert 'id="grand-total">-20.00<' in html and 'id="balance-due">-20.00<' in html
    inv_html = rep_client.get(inv.get_absolute_url()).content.decode()
    assert memo.number in inv_html  # the invoice lists its memos


def test_credits_only_filter_and_customer_table_list_memos_with_invoices(
    rep_client, rep, poster, customer
):
    inv = make_invoice(customer=customer, by=rep, post_by=poster)
    memo = credit_memo_from(inv, "1", by=rep)
    credits = rep_client.get(reverse("invoicing:list"), {"type": "credits"}).content.decode()
    assert memo.number in credits and f">{inv.number}<" not in credits
    both = rep_client.get(customer.get_absolute_url()).content.decode()
    assert memo.number in both and inv.number in both


def test_seed_demo_has_the_aace_reward_credit_and_check_ledger_passes(db):
    """seed_demo: Montboro's 06/01/23 reward credit −250.00, posted; all invariants hold."""
    call_command("seed_demo")
    memo = Document.objects.get(
        customer__code="MSD", kind=DocumentKind.CREDIT_MEMO, date=datetime.date(2023, 6, 1)
    )
    assert memo.grand_total == D("-250.00") and memo.is_posted
    assert memo.description == "Credit memo to extend Spring 2023 promotion."
    ledger_ok()


def test_check_ledger_catches_an_over_credited_line(rep, poster, customer):
    """Invariant 5 fails when a memo line (forced past the service) credits too much."""
    inv = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "2", "10.00")])
    memo = credit_memo_from(inv, "2", by=rep)
    DocumentLine.objects.filter(document=memo).update(quantity=D("-3"))
    result = next(r for r in run_all() if r.invariant == "5")
    assert not result.ok and "credited 3" in result.problems[0]
    DocumentLine.objects.filter(document=memo).update(quantity=D("-2"))


def _item_pk(code):
    from invoicing.models import Item

    return Item.objects.get(code=code).pk
