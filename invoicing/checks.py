"""Subledger invariants of ledger/ACCOUNTING.md, registered with `check_ledger`."""

from django.db.models import Q

from invoicing.models import Document, DocumentKind, DocumentStatus, PaymentMethod
from invoicing.selectors import (
    bad_applications,
    computed_open_amounts,
    deposit_amount_problems,
    deposit_remaining_by_customer,
    open_balances_by_customer,
    over_credited_lines,
)
from ledger import selectors as ledger_selectors
from ledger.aggregates import money_sum
from ledger.checks import CheckResult
from ledger.models import SystemRole
from ledger.money import ZERO, format_money


def check_receivable_ties_out() -> CheckResult:
    """Invariant 2: A/R control = sum of open amounts of posted documents, total and per customer."""
    result = CheckResult("2", "A/R control equals the open items of posted documents")
    control = ledger_selectors.account_balances_by_customer(SystemRole.RECEIVABLE)
    subledger = open_balances_by_customer()
    control_total = sum(control.values(), ZERO)
    sub_total = sum(subledger.values(), ZERO)
    result.report.append(
        f"A/R control {format_money(control_total)} vs subledger {format_money(sub_total)}"
    )
    if None in control and control[None] != 0:
        result.problems.append(f"A/R lines without a customer: {format_money(control[None])}")
    for customer_id in sorted(k for k in set(control) | set(subledger) if k is not None):
        gl = control.get(customer_id, ZERO)
        sub = subledger.get(customer_id, ZERO)
        if gl != sub:
            result.problems.append(
                f"customer {customer_id}: control {format_money(gl)} != open items {format_money(sub)}"
            )
    if control_total != sub_total:
        result.problems.append("A/R control total differs from the subledger total")
    return result


def check_open_amounts_in_range() -> CheckResult:
    """Invariant 4: no open amount crosses zero or exceeds its total; drafts and voids carry none."""
    result = CheckResult("4", "No open amount crosses zero or exceeds its document's total")
    posted = Document.objects.filter(status=DocumentStatus.POSTED)
    for number, total, open_ in posted.values_list("number", "grand_total", "balance_due"):
        if total >= 0 and not (ZERO <= open_ <= total):
            result.problems.append(f"{number}: open {open_} outside 0..{total}")
        if total < 0 and not (total <= open_ <= ZERO):
            result.problems.append(f"{number}: open {open_} outside {total}..0")
    for number in (
        Document.objects.exclude(status=DocumentStatus.POSTED)
        .exclude(balance_due=0)
        .values_list("number", flat=True)
    ):
        result.problems.append(f"{number}: not posted but carries an open amount")
    return result


def check_posted_documents_match_entries() -> CheckResult:
    """Invariant 6 on the document side: a posted document's entry moved A/R by its total,
    and its totals still equal the sum of its lines."""
    result = CheckResult("6", "Posted documents match their lines and their journal entries")
    docs = Document.objects.exclude(status=DocumentStatus.DRAFT).exclude(posting_entry=None)
    docs = docs.prefetch_related("lines", "posting_entry__lines__account")
    for doc in docs:
        lines = list(doc.lines.all())
        subtotal = sum((line.extended_amount for line in lines), ZERO)
        tax = sum((line.tax_amount for line in lines), ZERO)
        if doc.is_money:
            _check_cash_side(doc, result)
        elif subtotal != doc.subtotal or tax != doc.tax_total or subtotal + tax != doc.grand_total:
            result.problems.append(f"{doc.number}: totals no longer equal its lines")
        ar = sum(
            (
                line.debit - line.credit
                for line in doc.posting_entry.lines.all()
                if line.account.system_role == SystemRole.RECEIVABLE
            ),
            ZERO,
        )
        if ar != doc.grand_total:
            result.problems.append(
                f"{doc.number}: its entry moved A/R by {format_money(ar)}, not {format_money(doc.grand_total)}"
            )
    result.report.append(f"{len(docs)} posted or voided documents checked")
    return result


def _check_cash_side(doc, result: CheckResult) -> None:
    """A posted payment debits, and a released refund credits, the account of its method
    (Bank, Credit Card Clearing, or Customer Deposits for store credit) by its amount."""
    role = PaymentMethod.cash_account_role(doc.method)
    moved = sum(
        (
            line.debit - line.credit
            for line in doc.posting_entry.lines.all()
            if line.account.system_role == role
        ),
        ZERO,
    )
    if moved != -doc.grand_total:
        code = ledger_selectors.role_account_code(role)
        result.problems.append(
            f"{doc.number}: its entry moved {code} ({SystemRole(role).label}) by {format_money(moved)}, not {format_money(-doc.grand_total)}"
        )


def check_reservations() -> CheckResult:
    """What each credit holds for pending refunds equals those refunds, within its open amount."""
    result = CheckResult("4", "Pending refunds reserve no more than their credit's open amount")
    pending = dict(
        Document.objects.filter(kind=DocumentKind.REFUND, status=DocumentStatus.DRAFT)
        .values("refund_of")
        .annotate(total=money_sum("grand_total"))
        .values_list("refund_of", "total")
    )
    for doc in Document.objects.filter(Q(reserved__gt=0) | Q(pk__in=pending.keys())):
        if doc.reserved != pending.get(doc.pk, ZERO):
            result.problems.append(
                f"{doc.number}: reserves {doc.reserved} but pending refunds total {pending.get(doc.pk, ZERO)}"
            )
        if doc.reserved > -doc.balance_due:
            result.problems.append(
                f"{doc.number}: reserves {doc.reserved}, more than its open credit"
            )
    return result


def check_credit_quantities() -> CheckResult:
    """Invariant 5: no invoice line is credited beyond its quantity, extended amount or tax
    over all its non-void memos."""
    result = CheckResult("5", "Credit memos never credit more of a line than was invoiced")
    result.problems.extend(str(line) for line in over_credited_lines())
    return result


def check_applications() -> CheckResult:
    """Every application pairs a positive and a negative posted item of one customer, and
    each stored open amount equals its total less what is applied (recomputed)."""
    result = CheckResult(
        "4", "Applications pair a positive and a negative item; open amounts recompute"
    )
    result.problems.extend(bad_applications())
    computed = computed_open_amounts()
    stored = dict(Document.objects.filter(pk__in=computed.keys()).values_list("pk", "balance_due"))
    numbers = dict(Document.objects.filter(pk__in=computed.keys()).values_list("pk", "number"))
    for pk, amount in computed.items():
        if stored.get(pk) != amount:
            result.problems.append(
                f"{numbers[pk]}: stored open {stored.get(pk)} but total less applications is {amount}"
            )
    result.report.append(f"{len(computed)} open items recomputed from their applications")
    return result


def check_deposits_tie_out() -> CheckResult:
    """Invariant 3: the Customer Deposits account equals the unused deposit amounts, in total
    and per customer; each deposit's remaining equals its amount less what was used."""
    result = CheckResult("3", "Customer Deposits equals the sum of unused deposits")
    # A liability: its balance is credit-positive.
    control = {
        k: -v for k, v in ledger_selectors.account_balances_by_customer(SystemRole.DEPOSITS).items()
    }
    held = deposit_remaining_by_customer()
    control_total, held_total = sum(control.values(), ZERO), sum(held.values(), ZERO)
    result.report.append(
        f"Customer Deposits {format_money(control_total)} vs unused deposits {format_money(held_total)}"
    )
    if control.get(None):
        result.problems.append(
            f"Customer Deposits lines without a customer: {format_money(control[None])}"
        )
    for customer_id in sorted(k for k in set(control) | set(held) if k is not None):
        if control.get(customer_id, ZERO) != held.get(customer_id, ZERO):
            result.problems.append(
                f"customer {customer_id}: Customer Deposits {format_money(control.get(customer_id, ZERO))} "
                f"!= unused deposits {format_money(held.get(customer_id, ZERO))}"
            )
    result.problems.extend(deposit_amount_problems())
    return result
