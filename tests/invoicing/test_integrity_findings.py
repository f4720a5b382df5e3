"""Regression tests for the outside probe's findings (issue 10): one policy that every
service and URL asks, applications the system made, void with reservations, one
allocator, one idempotency mechanism, posting that can't jam, wrong-kind URLs."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from invoicing import selectors, services
from invoicing.allocator import Allocation
from invoicing.models import (
    Application,
    ApplicationOrigin,
    Deposit,
    DepositApplication,
    Document,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.policies import Act, decide
from ledger.models import JournalEntry
from tests.factories import line, make_invoice, make_user, posted_memo
from tests.helpers import fresh, ledger_ok

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)


def payment(customer, amount, by, **kwargs):
    return services.payment_record(
        customer=customer, date=DAY, method="check", amount=D(amount), by=by, **kwargs
    )


def refund(document, amount, by, method="check", **kwargs):
    return services.refund_prepare(
        document=document, amount=D(amount), method=method, date=DAY, by=by, **kwargs
    )


def snapshot():
    """Row counts and balances: a refused request must leave this unchanged."""
    return (
        Document.objects.count(),
        JournalEntry.objects.count(),
        Application.objects.count(),
        sorted(Document.objects.values_list("pk", "status", "balance_due", "reserved")),
        sorted(Deposit.objects.values_list("pk", "status", "remaining", "reserved")),
    )


# --- finding 1: the generic editor and cancel accept any kind of document ------------------


def test_the_invoice_editor_refuses_a_payment_and_its_url_is_a_404(client, customer, rep, poster):
    """A recorded payment can't be turned into a 900.00 charge through /edit/."""
    pmt = payment(customer, "50.00", rep)
    client.force_login(poster)
    before = snapshot()
    response = client.post(
        reverse("invoicing:edit", args=[pmt.pk]),
        {
            "customer": customer.pk,
            "date": "2026-11-10",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "0",
            "lines-0-item": "1",
            "lines-0-quantity": "1",
            "lines-0-unit_price": "900.00",
            "action": "save",
        },
    )
    assert response.status_code == 404
    assert snapshot() == before
    with pytest.raises(ValidationError, match="can't edit"):
        services.document_update_draft(document=pmt, by=poster, lines=[line("PRT", "1", "900")])
    assert fresh(pmt).grand_total == D("-50.00")


def test_a_pending_refund_cant_be_changed_or_cancelled_through_the_document_urls(
    client, customer, rep, poster
):
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = refund(credit, "40.00", rep)
    client.force_login(rep)
    before = snapshot()
    assert client.get(reverse("invoicing:edit", args=[rfd.pk])).status_code == 404
    assert client.post(reverse("invoicing:cancel", args=[rfd.pk])).status_code == 404
    assert snapshot() == before  # the generic cancel isn't a refund's act
    with pytest.raises(ValidationError):
        services.document_cancel_draft(document=rfd, by=rep)
    assert fresh(credit).reserved == D("40.00")
    ledger_ok()


def test_only_the_preparer_or_a_poster_cancels_a_pending_refund(customer, rep, poster):
    other_rep = make_user("A/R rep", "rep2")
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = refund(credit, "40.00", rep)
    with pytest.raises(PermissionDenied):
        services.refund_cancel(refund=rfd, by=other_rep)
    assert fresh(rfd).status == DocumentStatus.DRAFT
    services.refund_cancel(refund=rfd, by=rep)
    assert fresh(credit).reserved == 0
    ledger_ok()


# --- finding 2: a released refund can be unapplied ----------------------------------------


def released(credit, amount, rep, poster, method="check"):
    rfd = refund(credit, amount, rep, method=method)
    return services.refund_release(refund=rfd, by=poster)


def test_the_application_a_release_made_cant_be_unapplied_by_hand(
    client, customer, rep, poster, poster2
):
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = released(credit, "100.00", rep, poster2)
    app = Application.objects.get(target=rfd)
    assert app.origin == ApplicationOrigin.REFUND
    with pytest.raises(ValidationError, match="reverse that refund"):
        services.credit_unapply(application=app, by=poster)
    client.force_login(poster)
    before = snapshot()
    client.post(reverse("invoicing:unapply", args=[credit.pk, app.pk]))
    assert snapshot() == before
    # The credit can't be refunded twice.
    with pytest.raises(ValidationError):
        refund(credit, "100.00", rep)
    ledger_ok()


def test_reversing_a_released_refund_writes_the_exact_reverse_and_reopens_the_credit(
    client, customer, rep, poster, poster2
):
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = released(credit, "60.00", rep, poster2)
    assert fresh(credit).balance_due == D("-40.00")
    client.force_login(rep)
    assert client.get(reverse("invoicing:reverse_refund", args=[rfd.pk])).status_code == 403
    client.force_login(poster)
    page = client.get(reverse("invoicing:reverse_refund", args=[rfd.pk]))
    assert page.status_code == 200 and b"reversal-preview" in page.content
    client.post(reverse("invoicing:reverse_refund", args=[rfd.pk]), {"key": "reverse-key-1"})
    rfd = fresh(rfd)
    assert rfd.status == DocumentStatus.VOID and rfd.status_label == "Reversed"
    assert fresh(credit).balance_due == D("-100.00")
    original = {(ln.account_id, ln.debit, ln.credit) for ln in rfd.posting_entry.lines.all()}
    reverse_lines = {(ln.account_id, ln.credit, ln.debit) for ln in rfd.void_entry.lines.all()}
    assert original == reverse_lines
    # Reversing twice is refused; the credit can be refunded again, once.
    with pytest.raises(ValidationError):
        services.refund_reverse(refund=rfd, by=poster)
    ledger_ok()


def test_a_store_credit_refund_is_reversed_only_while_its_deposit_is_unused(
    customer, rep, poster, poster2
):
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = released(credit, "100.00", rep, poster2, method=PaymentMethod.STORE_CREDIT)
    deposit = Deposit.objects.get(source_refund=rfd)
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    application = services.deposit_apply(
        deposit=deposit, invoice=invoice, amount=D("30.00"), by=rep
    )
    with pytest.raises(ValidationError, match="has been used"):
        services.refund_reverse(refund=rfd, by=poster)
    services.deposit_unapply(application=application, by=rep)
    services.refund_reverse(refund=rfd, by=poster)
    deposit = fresh(deposit)
    assert deposit.status == DocumentStatus.VOID and deposit.remaining == 0
    assert fresh(credit).balance_due == D("-100.00")
    with pytest.raises(ValidationError):
        services.deposit_apply(deposit=deposit, invoice=invoice, amount=D("1.00"), by=rep)
    ledger_ok()


# --- finding 3: void ignores reservations --------------------------------------------------


def test_void_refuses_a_credit_with_a_pending_refund_and_names_it(client, customer, rep, poster):
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = refund(credit, "40.00", rep)
    with pytest.raises(ValidationError, match=rfd.number):
        services.document_void(document=credit, by=poster)
    client.force_login(poster)
    page = client.get(reverse("invoicing:void", args=[credit.pk]))
    assert rfd.number.encode() in page.content
    assert fresh(credit).status == DocumentStatus.POSTED
    ledger_ok()


def test_unapply_all_and_void_lists_and_undoes_applications_in_one_step(
    client, customer, rep, poster
):
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)  # 100.00 + tax
    credit = posted_memo(customer, "-30.00", by=rep, post_by=poster)
    services.credit_apply(
        source=credit, allocations=[Allocation(invoice, D("30.00"))], by=rep, date=DAY
    )
    client.force_login(poster)
    page = client.get(reverse("invoicing:void", args=[invoice.pk]))
    assert b"Unapply all and void" in page.content and credit.number.encode() in page.content
    response = client.post(
        reverse("invoicing:void", args=[invoice.pk]),
        {"date": timezone_today(), "unapply_all": "1", "key": "void-all-key-1"},
    )
    assert response.status_code == 302
    assert fresh(invoice).status == DocumentStatus.VOID
    assert fresh(credit).balance_due == D("-30.00")
    ledger_ok()


def timezone_today():
    from django.utils import timezone

    return timezone.localdate().isoformat()


# --- finding 4 and 7: one allocator ------------------------------------------------------


def test_one_submission_cant_name_the_same_invoice_twice(customer, rep, poster):
    invoice = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "100")]
    )
    credit = posted_memo(customer, "-200.00", by=rep, post_by=poster)
    before = snapshot()
    with pytest.raises(ValidationError, match="named twice"):
        services.credit_apply(
            source=credit,
            allocations=[Allocation(invoice, D("60.00")), Allocation(invoice, D("60.00"))],
            by=rep,
            date=DAY,
        )
    assert snapshot() == before


def test_apply_oldest_first_fills_from_what_is_usable_not_the_open_amount(
    client, customer, rep, poster
):
    invoice = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "500")]
    )
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    refund(credit, "60.00", rep)  # pending: reserves 60 of the 100
    client.force_login(rep)
    response = client.post(
        reverse("invoicing:apply", args=[credit.pk]),
        {"action": "fill", "date": "2026-11-10", "key": "k" * 32},
    )
    assert response.context["form"].data[f"amount_{invoice.pk}"] == "40.00"


def test_record_payment_fill_keeps_the_customer_in_the_fragment_url(client, customer, rep, poster):
    """The htmx "Apply oldest first" posts to the page's full URL, so the rows come back
    (not the customer picker) and Save records the allocations."""
    inv1 = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "1000")])
    inv2 = make_invoice(customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "2000")])
    client.force_login(rep)
    url = reverse("payments:create") + f"?customer={customer.pk}"
    page = client.get(url)
    assert f'hx-post="{url}"'.encode() in page.content
    response = client.post(
        url,
        {
            "action": "fill",
            "amount": "800.00",
            "method": "check",
            "date": "2026-11-10",
            "key": "p" * 32,
        },
        HTTP_HX_REQUEST="true",
    )
    assert b"allocation-rows" in response.content and b"Choose a customer" not in response.content
    assert (
        f'name="amount_{inv1.pk}" value="800.00"'.encode() in response.content
        or b"800.00" in response.content
    )
    assert inv2.pk


# --- finding 8: idempotency ----------------------------------------------------------------


def test_apply_deposit_resent_applies_once(client, customer, rep, poster):
    deposit = services.deposit_record(
        customer=customer, date=DAY, method="check", amount=D("400.00"), by=rep
    )
    services.deposit_post(deposit=deposit, by=poster)
    invoice = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "1000")]
    )
    client.force_login(rep)
    form = {"deposit": deposit.pk, "amount": "100.00", "date": "2026-11-20", "key": "d" * 32}
    first = client.post(reverse("invoicing:apply_deposit", args=[invoice.pk]), form)
    second = client.post(reverse("invoicing:apply_deposit", args=[invoice.pk]), form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert DepositApplication.objects.filter(invoice=invoice).count() == 1
    assert fresh(invoice).balance_due == D("900.00")
    ledger_ok()


@pytest.mark.parametrize("which", ["payment", "refund", "deposit", "deposit_refund", "apply"])
def test_every_money_service_returns_the_first_result_for_a_resent_key(
    which, customer, rep, poster
):
    """The same key twice: one effect, the same result; a missing key would make two."""
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    invoice = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "500")]
    )
    deposit = services.deposit_post(
        deposit=services.deposit_record(
            customer=customer, date=DAY, method="check", amount=D("50.00"), by=rep
        ),
        by=poster,
    )
    calls = {
        "payment": lambda key: payment(customer, "10.00", rep, key=key),
        "refund": lambda key: refund(credit, "10.00", rep, key=key),
        "deposit": lambda key: services.deposit_record(
            customer=customer, date=DAY, method="check", amount=D("10.00"), by=rep, key=key
        ),
        "deposit_refund": lambda key: services.deposit_refund_prepare(
            deposit=deposit, amount=D("10.00"), method="check", date=DAY, by=rep, key=key
        ),
        "apply": lambda key: services.credit_apply(
            source=credit, allocations=[Allocation(invoice, D("10.00"))], by=rep, key=key
        ),
    }
    before = snapshot()
    first = calls[which]("same-key-123")
    middle = snapshot()
    again = calls[which]("same-key-123")
    assert snapshot() == middle != before
    assert again == first
    ledger_ok()


def test_a_key_reused_for_another_action_is_refused_with_a_message(customer, rep, poster):
    payment(customer, "10.00", rep, key="reused-key-1")
    with pytest.raises(ValidationError, match="already used"):
        services.deposit_record(
            customer=customer,
            date=DAY,
            method="check",
            amount=D("10.00"),
            by=rep,
            key="reused-key-1",
        )


# --- finding 9: posting can jam ------------------------------------------------------------


def test_a_draft_payment_whose_planned_invoice_was_paid_meanwhile_still_posts(
    customer, rep, poster
):
    invoice = make_invoice(
        customer=customer, by=rep, post_by=poster, lines=[line("PRT", "1", "100")]
    )
    planned = payment(customer, "100.00", rep, allocations=[Allocation(invoice, D("100.00"))])
    other = services.document_post(document=payment(customer, "70.00", rep), by=poster)
    services.credit_apply(source=other, allocations=[Allocation(invoice, D("70.00"))], by=rep)
    posted = services.document_post(document=planned, by=poster)
    assert posted.status == DocumentStatus.POSTED
    assert posted.balance_due == D("-70.00")  # 30 applied, 70 stays as credit
    assert fresh(invoice).balance_due == 0
    assert posted.post_notes and "30.00" in posted.post_notes[0]
    ledger_ok()


def test_changing_the_customer_of_a_draft_with_an_earmarked_payment_is_refused(
    customer, rep, poster
):
    from tests.factories import CustomerFactory

    draft = make_invoice(customer=customer, by=rep, lines=[line("PRT", "1", "100")])
    services.document_post(
        document=services.payment_on_document(
            document=draft, amount=D("40.00"), date=DAY, method="check", by=rep
        ),
        by=poster,
    )
    with pytest.raises(ValidationError) as exc:
        services.document_update_draft(
            document=draft,
            customer=CustomerFactory(),
            lines=[line("PRT", "1", "100")],
            by=rep,
        )
    assert "customer" in exc.value.error_dict
    posted = services.document_post(document=draft, by=poster)
    assert posted.balance_due == D("60.00")
    ledger_ok()


# --- finding 14: wrong-kind URLs --------------------------------------------------------------


@pytest.mark.parametrize("name", ["release", "cancel_refund", "reverse_refund"])
def test_refund_actions_on_a_document_that_isnt_a_refund_answer_404(
    name, client, customer, rep, poster
):
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    client.force_login(poster)
    assert client.post(reverse(f"invoicing:{name}", args=[invoice.pk])).status_code == 404


def test_apply_and_payment_or_refund_on_a_refund_answer_404(client, customer, rep, poster):
    credit = posted_memo(customer, "-100.00", by=rep, post_by=poster)
    rfd = refund(credit, "10.00", rep)
    client.force_login(poster)
    assert client.get(reverse("invoicing:apply", args=[rfd.pk])).status_code == 404
    assert client.get(reverse("invoicing:payment_or_refund", args=[rfd.pk])).status_code == 404
    assert client.get(reverse("invoicing:credit_from_invoice", args=[credit.pk])).status_code == 404


def test_the_policy_answers_for_every_kind(customer, rep, poster):
    invoice = make_invoice(customer=customer, by=rep)
    assert decide(rep, Act.EDIT, invoice) and not decide(rep, Act.POST, invoice)
    assert decide(rep, Act.POST, invoice).forbidden
    assert decide(poster, Act.POST, invoice)
    assert decide(poster, Act.RELEASE, invoice).not_applicable
    selectors.document_get(invoice.pk)
