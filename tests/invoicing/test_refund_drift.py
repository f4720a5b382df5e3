"""Issue 11: refunds of credits and of deposits run one code path, and deposits check what
credits check. Each test pins a check that had drifted between the two."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from invoicing import services
from invoicing.exceptions import InvoicingError
from invoicing.models import DepositApplication, DepositRefund, DocumentStatus
from ledger.models import AuditAction, AuditEvent, JournalEntry
from ledger.services import audit_log, build_legs
from tests.factories import line, make_invoice, posted_deposit, posted_memo
from tests.helpers import fresh

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)
BEFORE = DAY - datetime.timedelta(days=3)


def applied_deposit(customer, rep, poster):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster, date=DAY)
    invoice = make_invoice(
        customer=customer, by=rep, post_by=poster, date=DAY, lines=[line("SVC", "1", "300.00")]
    )
    return services.deposit_apply(
        deposit=deposit, invoice=invoice, amount=D("60.00"), by=rep, date=DAY
    )


def test_deposit_unapply_cant_be_dated_before_the_application(customer, rep, poster):
    """Like credit_unapply: removing a deposit application is never dated before it."""
    application = applied_deposit(customer, rep, poster)
    entries = JournalEntry.objects.count()
    with pytest.raises(InvoicingError) as exc:
        services.deposit_unapply(application=application, by=rep, date=BEFORE)
    assert exc.value.code == "before_application"
    application = DepositApplication.objects.get(pk=application.pk)
    assert application.is_active and application.removal_entry_id is None
    assert JournalEntry.objects.count() == entries
    assert fresh(application.deposit).remaining == D("40.00")


def test_deposit_unapply_on_or_after_the_application_restores_both(customer, rep, poster):
    application = applied_deposit(customer, rep, poster)
    services.deposit_unapply(application=application, by=rep, date=DAY)
    application = DepositApplication.objects.get(pk=application.pk)
    assert not application.is_active and application.removal_entry_id
    assert fresh(application.deposit).remaining == D("100.00")
    assert fresh(application.invoice).balance_due == D("300.00")


def pending_deposit_refund(customer, rep, poster, date=DAY):
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster, date=date)
    return services.deposit_refund_prepare(
        deposit=deposit, amount=D("25.00"), method="check", date=date, by=rep
    )


def test_deposit_refund_release_cant_be_dated_before_the_deposit(customer, rep, poster):
    """Like refund_release: the release is never dated before what it refunds."""
    refund = pending_deposit_refund(customer, rep, poster)
    with pytest.raises(ValidationError) as exc:
        services.deposit_refund_release(refund=refund, by=poster, date=BEFORE)
    assert "can't be dated before" in exc.value.message_dict["date"][0]
    refund = DepositRefund.objects.get(pk=refund.pk)
    assert refund.status == DocumentStatus.DRAFT and refund.entry_id is None
    assert fresh(refund.deposit).reserved == D("25.00")


def test_credit_refund_release_cant_be_dated_before_the_credit(customer, rep, poster):
    memo = posted_memo(customer, "50.00", by=rep, post_by=poster, date=DAY)
    refund = services.refund_prepare(
        document=memo, amount=D("10.00"), method="check", date=DAY, by=rep
    )
    with pytest.raises(ValidationError) as exc:
        services.refund_release(refund=refund, by=poster, date=BEFORE)
    assert "can't be dated before" in exc.value.message_dict["date"][0]
    assert fresh(refund).status == DocumentStatus.DRAFT


def test_deposit_refund_release_names_the_release_date_when_out_of_range(
    customer, rep, poster, settings
):
    """One date check for both releases: "The release date can't be …"."""
    refund = pending_deposit_refund(customer, rep, poster)
    late = datetime.date.today() + datetime.timedelta(days=settings.BUSINESS_DATE_HORIZON_DAYS + 5)
    with pytest.raises(ValidationError, match="The release date can't be later"):
        services.deposit_refund_release(refund=refund, by=poster, date=late)


def test_deposit_refund_cancel_records_the_canceller(customer, rep, poster):
    refund = pending_deposit_refund(customer, rep, poster)
    services.deposit_refund_cancel(refund=refund, by=poster)
    refund = DepositRefund.objects.get(pk=refund.pk)
    assert refund.status == DocumentStatus.VOID
    assert refund.cancelled_by == poster and refund.cancelled_at is not None
    assert refund.status_label == "Cancelled"
    assert fresh(refund.deposit).reserved == 0
    event = AuditEvent.objects.get(action=AuditAction.DEPOSIT_REFUND_CANCELLED)
    assert event.actor == poster and event.amount == D("25.00")


def test_credit_refund_cancel_records_the_canceller(customer, rep, poster):
    memo = posted_memo(customer, "50.00", by=rep, post_by=poster, date=DAY)
    refund = services.refund_prepare(
        document=memo, amount=D("10.00"), method="check", date=DAY, by=rep
    )
    services.refund_cancel(refund=refund, by=poster)
    refund = fresh(refund)
    assert refund.status == DocumentStatus.VOID and refund.voided_by == poster
    assert fresh(memo).reserved == 0


def test_both_refunds_refuse_more_than_is_left_with_one_code(customer, rep, poster):
    memo = posted_memo(customer, "50.00", by=rep, post_by=poster, date=DAY)
    deposit = posted_deposit(customer, "40.00", by=rep, post_by=poster, date=DAY)
    with pytest.raises(ValidationError) as credit:
        services.refund_prepare(document=memo, amount=D("60.00"), method="check", date=DAY, by=rep)
    with pytest.raises(ValidationError) as held:
        services.deposit_refund_prepare(
            deposit=deposit, amount=D("60.00"), method="check", date=DAY, by=rep
        )
    assert credit.value.error_dict["amount"][0].code == "over_refund"
    assert held.value.error_dict["amount"][0].code == "over_refund"
    assert "open credit of 50.00" in credit.value.messages[0]
    assert "40.00 left on" in held.value.messages[0]


def test_audit_log_takes_only_audit_actions(rep):
    with pytest.raises(TypeError):
        audit_log(by=rep, action="refund cancelled")
    event = audit_log(by=rep, action=AuditAction.BOOKS_CLOSED, target_ref="x")
    assert event.action == "books closed"


def test_one_legs_builder_merges_signs_and_mirrors(customer, rep, poster):
    """build_legs adds up rows per account and customer and picks each side; a reversal
    (merge=False) keeps line for line."""
    deposit = posted_deposit(customer, "100.00", by=rep, post_by=poster, date=DAY)
    bank, deposits = [
        (line.account, line.customer_id) for line in deposit.posting_entry.lines.all()
    ]
    legs = build_legs([(*bank, D("60")), (*bank, D("40")), (*deposits, D("-100"))], memo="m")
    assert [(leg.debit, leg.credit, leg.memo) for leg in legs] == [
        (D("100.00"), D("0"), "m"),
        (D("0"), D("100.00"), "m"),
    ]
    kept = build_legs([(*bank, D("1")), (*bank, D("-1"))], merge=False)
    assert [(leg.debit, leg.credit) for leg in kept] == [(D("1.00"), D("0")), (D("0"), D("1.00"))]
