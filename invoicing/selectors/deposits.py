"""Customer deposits: listings, one deposit, what of each is used, refunded, pending and
left, deposit applications on an invoice, and the deposit figures check_ledger ties out."""

from decimal import Decimal

from django.db.models import F, OuterRef, QuerySet

from invoicing.models import Deposit, DepositApplication, DepositRefund, Document, DocumentStatus
from ledger.aggregates import grouped_money_subquery, money_sum


def deposit_list() -> QuerySet[Deposit]:
    return Deposit.objects.select_related("customer", "created_by", "posted_by")


def deposit_get(pk: int) -> Deposit:
    return deposit_list().select_related("posting_entry", "source_refund").get(pk=pk)


def deposits_with_usage() -> QuerySet[Deposit]:
    """Deposits annotated with what was used (applied), refunded and is pending refund."""
    used = DepositApplication.objects.filter(deposit=OuterRef("pk"), removed_at__isnull=True)
    refunded = DepositRefund.objects.filter(deposit=OuterRef("pk"), status=DocumentStatus.POSTED)
    pending = DepositRefund.objects.filter(deposit=OuterRef("pk"), status=DocumentStatus.DRAFT)
    return deposit_list().annotate(
        used=grouped_money_subquery(used, "deposit"),
        refunded=grouped_money_subquery(refunded, "deposit"),
        pending=grouped_money_subquery(pending, "deposit"),
    )


def deposits_with_remainder(customer) -> QuerySet[Deposit]:
    return Deposit.objects.filter(
        customer=customer, status=DocumentStatus.POSTED, remaining__gt=F("reserved")
    ).order_by("date", "id")


def deposit_applications_for_invoice(invoice: Document) -> QuerySet[DepositApplication]:
    return invoice.deposit_applications.select_related(
        "deposit", "created_by", "removed_by"
    ).order_by("date", "id")


def deposit_remaining_by_customer() -> dict[int, Decimal]:
    rows = (
        Deposit.objects.filter(status=DocumentStatus.POSTED)
        .values("customer_id")
        .annotate(total=money_sum("remaining"))
    )
    return {r["customer_id"]: r["total"] for r in rows}


def deposit_amount_problems() -> list[str]:
    """Each posted deposit's remaining = amount − applied − refunded; reserved = pending refunds."""
    problems = []
    for deposit in deposits_with_usage().filter(status=DocumentStatus.POSTED):
        expected = deposit.amount - deposit.used - deposit.refunded
        if deposit.remaining != expected:
            problems.append(
                f"{deposit.number}: remaining {deposit.remaining} but amount less used and refunded is {expected}"
            )
        if deposit.reserved != deposit.pending:
            problems.append(
                f"{deposit.number}: reserves {deposit.reserved} but pending refunds total {deposit.pending}"
            )
    return problems
