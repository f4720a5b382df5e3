"""Apply Credit: pair credits with open invoices — partial, multi-invoice, unapply, race-safe."""

import datetime
import threading
from decimal import Decimal
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from invoicing import selectors, services
from invoicing.models import Application
from ledger.checks import run_all
from ledger.models import JournalEntry, LedgerSettings
from tests.factories import (
    CustomerFactory,
    line,
    make_invoice,
    make_user,
    posted_invoice,
    posted_memo,
)
from tests.helpers import fresh, ledger_ok

pytestmark = pytest.mark.django_db
D = Decimal
TODAY = datetime.date(2026, 11, 20)


# Apply Credit's credit memos: a return of SVC, dated before the applications.
credit_memo = partial(posted_memo, date=datetime.date(2026, 11, 3), item="SVC", reason="return")


def apply_post(
    client, source, amounts: dict, *, key="k-1", date="2026-11-20", action="apply", **headers
):
    data = {"date": date, "key": key, "action": action}
    data.update({f"amount_{doc.pk}": value for doc, value in amounts.items()})
    return client.post(reverse("invoicing:apply", args=[source.pk]), data, **headers)


# --- worked scenarios ---------------------------------------------------------------------------


def test_scenario_1_apply_the_memo_invoice_balance_700(rep_client, rep, poster, customer):
    """INV-001 $1,000; CM $300 from it, applied → INV-001 Balance Due $700; no journal entry."""
    inv = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "10", "100.00")]
    )
    memo = services.credit_memo_create_from_invoice(
        invoice=inv,
        quantities={inv.lines.get().pk: D("3")},
        reason="return",
        by=rep,
        date=datetime.date(2026, 11, 3),
    )
    memo = services.document_post(document=memo, by=poster)
    entries = JournalEntry.objects.count()
    response = apply_post(rep_client, memo, {inv: "300.00"})
    assert response.status_code == 302
    assert fresh(inv).balance_due == D("700.00")
    assert fresh(memo).balance_due == D("0.00")
    assert JournalEntry.objects.count() == entries  # applying links; it posts nothing
    assert selectors.customer_ar_balance(customer) == D("700.00")
    page = rep_client.get(inv.get_absolute_url()).content.decode()
    assert 'id="balance-due">700.00<' in page and memo.number in page
    ledger_ok()


def test_scenario_3_price_dispute_600_and_300_owes_900(rep_client, rep, poster, customer):
    """INV-001 $800, INV-002 $300; CM $200 applied to INV-001 → 600 / 300, customer owes 900."""
    inv1 = posted_invoice(customer, "800.00", by=rep, post_by=poster)
    inv2 = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "200.00", by=rep, post_by=poster, source_invoice=inv1)
    apply_post(rep_client, memo, {inv1: "200"})
    assert (fresh(inv1).balance_due, fresh(inv2).balance_due) == (D("600.00"), D("300.00"))
    assert selectors.customer_ar_balance(customer) == D("900.00")
    ledger_ok()


def test_scenario_4_partial_application_leaves_100(rep_client, rep, poster, customer):
    """CM $500 applied $200 to INV-001 and $200 to INV-002 → CM remaining $100 for later."""
    inv1 = posted_invoice(customer, "1000.00", by=rep, post_by=poster)
    inv2 = posted_invoice(customer, "400.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    apply_post(rep_client, memo, {inv1: "200.00", inv2: "200.00"})
    assert fresh(memo).balance_due == D("-100.00")
    assert (fresh(inv1).balance_due, fresh(inv2).balance_due) == (D("800.00"), D("200.00"))
    # the remainder can be applied later
    apply_post(rep_client, memo, {inv2: "100.00"}, key="k-2")
    assert fresh(memo).balance_due == D("0.00") and fresh(inv2).balance_due == D("100.00")
    ledger_ok()


def test_apply_from_an_invoice_takes_several_credits(rep_client, rep, poster, customer):
    """On an open invoice, Apply Credit lists the customer's credits and applies several."""
    inv = posted_invoice(customer, "1000.00", by=rep, post_by=poster)
    m1 = credit_memo(customer, "150.00", by=rep, post_by=poster)
    m2 = credit_memo(customer, "250.00", by=rep, post_by=poster)
    page = rep_client.get(reverse("invoicing:apply", args=[inv.pk])).content.decode()
    assert m1.number in page and m2.number in page
    apply_post(rep_client, inv, {m1: "150", m2: "100"})
    assert fresh(inv).balance_due == D("750.00")
    assert (fresh(m1).balance_due, fresh(m2).balance_due) == (D("0.00"), D("-150.00"))
    ledger_ok()


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("300.01", "More than INV-000001&#x27;s open 300.00."),
        ("-5", "Enter a positive amount."),
        ("1.005", "Use at most 2 decimal places."),
        ("abc", "Enter a number, like 1,234.50."),
    ],
)
def test_bad_amount_is_refused_next_to_its_row_and_nothing_applied(
    rep_client, rep, poster, customer, value, message
):
    """More than the invoice's balance, negative, over two decimals, letters: an inline error."""
    inv = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    response = apply_post(rep_client, memo, {inv: value})
    assert response.status_code == 400
    html = response.content.decode()
    row_error = html.split(f'id="rowerr-{inv.pk}"')[1].split("</div></div>")[0]
    assert message in row_error
    assert not Application.objects.exists()
    assert fresh(inv).balance_due == D("300.00")


def test_more_than_the_remaining_credit_is_refused(rep_client, rep, poster, customer):
    """Together the rows may not exceed the credit's remainder; nothing is applied."""
    inv1 = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    inv2 = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "400.00", by=rep, post_by=poster)
    response = apply_post(rep_client, memo, {inv1: "300", inv2: "200"})
    assert response.status_code == 400
    assert "more than the 400.00 open on" in response.content.decode()
    assert not Application.objects.exists()


def test_only_posted_documents_of_the_same_customer_pair(rep, poster, customer):
    """A draft, a void document or another customer's invoice can't be applied to."""
    memo = credit_memo(customer, "100.00", by=rep, post_by=poster)
    draft = make_invoice(customer=customer, by=rep)
    other = posted_invoice(CustomerFactory(), "100.00", by=rep, post_by=poster)
    voided = services.document_void(
        document=posted_invoice(customer, "50.00", by=rep, post_by=poster), by=poster, date=TODAY
    )
    for target, message in [(draft, "not posted"), (other, "another customer"), (voided, "void")]:
        with pytest.raises(ValidationError, match=message):
            services.credit_apply(
                source=memo, allocations=[services.Allocation(target, D("10"))], by=rep, date=TODAY
            )
    assert not Application.objects.exists()


def test_a_document_with_applications_cannot_be_voided(rep, poster, customer):
    inv = posted_invoice(customer, "100.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "40.00", by=rep, post_by=poster)
    services.credit_apply(
        source=memo, allocations=[services.Allocation(inv, D("40"))], by=rep, date=TODAY
    )
    with pytest.raises(ValidationError, match="unapply first"):
        services.document_void(document=inv, by=poster, date=TODAY)


def test_application_in_a_closed_period_is_refused(rep, poster, customer):
    """An application has its own date, which may not fall in the closed period."""
    inv = posted_invoice(customer, "100.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "40.00", by=rep, post_by=poster)
    LedgerSettings.objects.update(books_closed_through=datetime.date(2026, 11, 10))
    with pytest.raises(ValidationError, match="books are closed"):
        services.credit_apply(
            source=memo,
            allocations=[services.Allocation(inv, D("40"))],
            by=rep,
            date=datetime.date(2026, 11, 10),
        )
    services.credit_apply(
        source=memo,
        allocations=[services.Allocation(inv, D("40"))],
        by=rep,
        date=datetime.date(2026, 11, 11),
    )
    assert fresh(inv).balance_due == D("60.00")


def test_accountant_cannot_apply(client, accountant, rep, poster, customer):
    memo = credit_memo(customer, "40.00", by=rep, post_by=poster)
    client.force_login(accountant)
    assert client.get(reverse("invoicing:apply", args=[memo.pk])).status_code == 403


# --- idempotency and races -----------------------------------------------------------------------


def test_the_same_form_submitted_twice_applies_once(rep_client, rep, poster, customer):
    """A double-clicked or re-sent Apply (same form key) applies once."""
    inv = posted_invoice(customer, "500.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "100.00", by=rep, post_by=poster)
    first = apply_post(rep_client, memo, {inv: "60"}, key="same-form")
    second = apply_post(rep_client, memo, {inv: "60"}, key="same-form")
    assert first.status_code == 302 and second.status_code == 302
    assert Application.objects.count() == 1
    assert fresh(inv).balance_due == D("440.00") and fresh(memo).balance_due == D("-40.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_reps_applying_one_credit_at_once_never_over_apply():
    """20 threads each apply the same $100 credit to a different $100 invoice: total applied
    ≤ $100, every loser gets a clear error, check_ledger passes."""
    rep, poster = make_user("A/R rep", "rep_race"), make_user("Poster", "poster_race")
    customer = CustomerFactory()
    invoices = [posted_invoice(customer, "100.00", by=rep, post_by=poster) for _ in range(20)]
    memo = credit_memo(customer, "100.00", by=rep, post_by=poster)
    barrier = threading.Barrier(20)
    outcomes = []

    def worker(inv, n):
        try:
            barrier.wait()
            services.credit_apply(
                source=memo,
                allocations=[services.Allocation(inv, D("100"))],
                by=rep,
                date=TODAY,
                key=f"t{n}",
            )
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(" ".join(exc.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(inv, n)) for n, inv in enumerate(invoices)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    losers = [o for o in outcomes if o != "ok"]
    assert len(losers) == 19 and all("nothing open to apply" in o for o in losers)
    assert sum(a.amount for a in Application.objects.all()) == D("100.00")
    ledger_ok()


# --- unapply and dates ---------------------------------------------------------------------------


def test_unapply_restores_both_and_keeps_the_history(rep_client, rep, poster, customer):
    """Removing an application restores both open amounts; the removal (who, when) stays visible."""
    inv = posted_invoice(customer, "500.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "100.00", by=rep, post_by=poster)
    apply_post(rep_client, memo, {inv: "100"})
    app = Application.objects.get()
    response = rep_client.post(reverse("invoicing:unapply", args=[inv.pk, app.pk]))
    assert response.status_code == 302
    assert fresh(inv).balance_due == D("500.00") and fresh(memo).balance_due == D("-100.00")
    app.refresh_from_db()
    assert app.removed_by == rep and app.removed_on is not None
    page = rep_client.get(memo.get_absolute_url()).content.decode()
    assert "Removed" in page and inv.number in page
    # removing twice is refused, not doubled
    rep_client.post(reverse("invoicing:unapply", args=[inv.pk, app.pk]))
    assert fresh(inv).balance_due == D("500.00")
    ledger_ok()


def test_open_amounts_as_of_a_date_follow_application_dates(rep, poster, customer):
    """Aging uses the application's date: before it the invoice was fully open."""
    inv = posted_invoice(
        customer, "500.00", by=rep, post_by=poster, date=datetime.date(2026, 10, 1)
    )
    memo = credit_memo(customer, "100.00", by=rep, post_by=poster)
    app = services.credit_apply(
        source=memo,
        allocations=[services.Allocation(inv, D("100"))],
        by=rep,
        date=datetime.date(2026, 11, 15),
    )[0]
    services.credit_unapply(application=app, by=rep, date=datetime.date(2026, 11, 18))
    assert selectors.open_amount_as_of(inv, datetime.date(2026, 11, 14)) == D("500.00")
    assert selectors.open_amount_as_of(inv, datetime.date(2026, 11, 15)) == D("400.00")
    assert selectors.open_amount_as_of(memo, datetime.date(2026, 11, 16)) == D("0.00")
    assert selectors.open_amount_as_of(inv, datetime.date(2026, 11, 18)) == D("500.00")
    assert selectors.computed_open_amounts(as_of=datetime.date(2026, 11, 16))[inv.pk] == D("400.00")
    assert selectors.open_amount_as_of(inv, datetime.date(2026, 9, 30)) == D("0")


# --- the screen ------------------------------------------------------------------------------------


def test_screen_lists_open_invoices_oldest_due_first(rep_client, rep, poster, customer):
    late = posted_invoice(
        customer, "100.00", by=rep, post_by=poster, date=datetime.date(2026, 10, 1)
    )
    early = posted_invoice(
        customer, "100.00", by=rep, post_by=poster, date=datetime.date(2026, 9, 1)
    )
    memo = credit_memo(customer, "50.00", by=rep, post_by=poster)
    html = rep_client.get(reverse("invoicing:apply", args=[memo.pk])).content.decode()
    assert html.index(f'id="row-{early.pk}"') < html.index(f'id="row-{late.pk}"')


def test_typing_rerenders_the_summary_with_new_balances(rep_client, rep, poster, customer):
    """htmx: the summary fragment carries the running total, remaining credit and each row's new balance."""
    inv1 = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    inv2 = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    response = apply_post(
        rep_client,
        memo,
        {inv1: "120", inv2: "400"},
        action="",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="allocation-summary",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<form" not in html
    assert 'id="applying">120.00<' in html and 'id="remaining">380.00<' in html
    assert f'<span id="newbal-{inv1.pk}" hx-swap-oob="true">180.00</span>' in html
    assert "More than INV-000002&#x27;s open 300.00." in html
    assert not Application.objects.exists()


def test_apply_oldest_first_fills_from_the_remainder_and_clear_empties(
    rep_client, rep, poster, customer
):
    inv1 = posted_invoice(
        customer, "300.00", by=rep, post_by=poster, date=datetime.date(2026, 9, 1)
    )
    inv2 = posted_invoice(
        customer, "300.00", by=rep, post_by=poster, date=datetime.date(2026, 10, 1)
    )
    inv3 = posted_invoice(
        customer, "300.00", by=rep, post_by=poster, date=datetime.date(2026, 10, 5)
    )
    memo = credit_memo(customer, "500.00", by=rep, post_by=poster)
    html = apply_post(rep_client, memo, {}, action="fill", HTTP_HX_REQUEST="true").content.decode()
    assert f'name="amount_{inv1.pk}" value="300.00"' in html
    assert f'name="amount_{inv2.pk}" value="200.00"' in html
    assert (
        f'name="amount_{inv3.pk}" value=""' in html
        or f'name="amount_{inv3.pk}"' in html
        and 'value="0' not in html
    )
    assert 'id="remaining">0.00<' in html
    cleared = apply_post(
        rep_client, memo, {inv1: "300"}, action="clear", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'id="applying">0.00<' in cleared


def test_apply_screen_costs_fixed_queries_for_5_and_200_invoices(rep_client, rep, poster, customer):
    memo = credit_memo(customer, "50.00", by=rep, post_by=poster)
    url = reverse("invoicing:apply", args=[memo.pk])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert rep_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(5):
        posted_invoice(customer, "10.00", by=rep, post_by=poster)
    small = count()
    for _ in range(195):
        posted_invoice(customer, "10.00", by=rep, post_by=poster)
    assert count() == small


def test_apply_of_many_rows_is_a_bounded_number_of_queries(rep, poster, customer):
    """One credit applied to 60 invoices in one call: bulk writes, not a round trip per row."""
    invoices = [posted_invoice(customer, "10.00", by=rep, post_by=poster) for _ in range(60)]
    memo = credit_memo(customer, "600.00", by=rep, post_by=poster)
    allocations = [services.Allocation(inv, D("10")) for inv in invoices]
    with CaptureQueriesContext(connection) as ctx:
        services.credit_apply(source=memo, allocations=allocations, by=rep, date=TODAY, key="bulk")
    assert len(ctx.captured_queries) <= 15
    assert fresh(memo).balance_due == 0


def test_check_ledger_catches_a_corrupted_application(rep, poster, customer):
    inv = posted_invoice(customer, "100.00", by=rep, post_by=poster)
    memo = credit_memo(customer, "40.00", by=rep, post_by=poster)
    services.credit_apply(
        source=memo, allocations=[services.Allocation(inv, D("40"))], by=rep, date=TODAY
    )
    Application.objects.update(amount=D("30"))
    failing = [r for r in run_all() if not r.ok]
    assert any("total less applications" in p for r in failing for p in r.problems)
    Application.objects.update(amount=D("40"))
