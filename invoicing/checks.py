"""Subledger invariants of ledger/ACCOUNTING.md, registered with `check_ledger`.

Each check is a fixed number of aggregate queries that return only mismatches
(invoicing.selectors.integrity); the totals tie-outs are also registered as the fast
checks (`check_ledger --fast`, `ledger.checks.run_fast`)."""

from dataclasses import dataclass

from django.db.models import F, Q

from invoicing.models import Document, DocumentKind, DocumentStatus
from invoicing.selectors import integrity
from ledger.aggregates import as_money, money_sum
from ledger.checks import CheckResult, register_fast
from ledger.models import Account, SystemRole
from ledger.money import format_money

MONEY_KINDS = (DocumentKind.PAYMENT, DocumentKind.REFUND)


@dataclass(frozen=True)
class _TieOut:
    """A control account tied to a subledger: what check_ledger says about it."""

    invariant: str
    title: str
    control: str  # the account, as the report names it
    subledger: str  # the subledger, as the report names it
    lines: str  # the account, as "… lines without a customer" names it
    per_customer: str  # "customer N: <this> X != <owed> Y"
    owed: str
    role: str
    sign: int  # 1 debit-positive (an asset), -1 credit-positive (a liability)
    total: str  # the problem when the totals differ


RECEIVABLE = _TieOut(
    "2",
    "A/R control equals the open items of posted documents",
    "A/R control",
    "subledger",
    "A/R",
    "control",
    "open items",
    SystemRole.RECEIVABLE,
    1,
    "A/R control total differs from the subledger total",
)
DEPOSITS = _TieOut(
    "3",
    "Customer Deposits equals the sum of unused deposits",
    "Customer Deposits",
    "unused deposits",
    "Customer Deposits",
    "Customer Deposits",
    "unused deposits",
    SystemRole.DEPOSITS,
    -1,
    "Customer Deposits total differs from the unused deposits",
)


def _tie_out(what: _TieOut, subledger, *, per_customer: bool) -> CheckResult:
    """Totals (one query) and, `per_customer`, each customer whose control lines don't add
    up to their subledger amount (one more); lines naming no customer are a problem."""
    result = CheckResult(what.invariant, what.title)
    books = (what.role, what.sign, subledger)
    control, sub = integrity.control_totals(*books)
    result.report.append(
        f"{what.control} {format_money(control)} vs {what.subledger} {format_money(sub)}"
    )
    for customer_id, gl, owed in integrity.control_mismatches(*books) if per_customer else ():
        if customer_id is None:
            result.problems.append(f"{what.lines} lines without a customer: {format_money(gl)}")
        else:
            result.problems.append(
                f"customer {customer_id}: {what.per_customer} {format_money(gl)} != "
                f"{what.owed} {format_money(owed)}"
            )
    if control != sub:
        result.problems.append(what.total)
    return result


def check_receivable_ties_out() -> CheckResult:
    """Invariant 2: A/R control = sum of open amounts of posted documents, total and per customer."""
    return _tie_out(RECEIVABLE, _open_items(), per_customer=True)


@register_fast
def check_receivable_total() -> CheckResult:
    """Invariant 2, totals only (one query): the dashboard's live tie-out."""
    return _tie_out(RECEIVABLE, _open_items(), per_customer=False)


def _open_items():
    return integrity.posted_open_items(), F("balance_due")


def check_open_amounts_in_range() -> CheckResult:
    """Invariant 4: no open amount crosses zero or exceeds its total; drafts and voids carry none."""
    result = CheckResult("4", "No open amount crosses zero or exceeds its document's total")
    positive_out = Q(grand_total__gte=0) & (
        Q(balance_due__lt=0) | Q(balance_due__gt=F("grand_total"))
    )
    negative_out = Q(grand_total__lt=0) & (
        Q(balance_due__gt=0) | Q(balance_due__lt=F("grand_total"))
    )
    outside = Document.objects.filter(status=DocumentStatus.POSTED).filter(
        positive_out | negative_out
    )
    for number, total, open_ in outside.order_by("pk").values_list(
        "number", "grand_total", "balance_due"
    ):
        low, high = ("0", total) if total >= 0 else (total, "0")
        result.problems.append(f"{number}: open {open_} outside {low}..{high}")
    carrying = Document.objects.exclude(status=DocumentStatus.POSTED).exclude(balance_due=0)
    for number in carrying.order_by("pk").values_list("number", flat=True):
        result.problems.append(f"{number}: not posted but carries an open amount")
    return result


def check_posted_documents_match_entries() -> CheckResult:
    """Invariant 6 on the document side: a posted document's entry moved A/R by its total,
    its totals still equal the sum of its lines, and a payment's or refund's entry moved
    its method's cash account by its amount. Three aggregate queries and a count."""
    result = CheckResult("6", "Posted documents match their lines and their journal entries")
    docs = Document.objects.exclude(status=DocumentStatus.DRAFT).exclude(posting_entry=None)
    lines = docs.exclude(kind__in=MONEY_KINDS).annotate(
        lines_subtotal=money_sum("lines__extended_amount"),
        lines_tax=money_sum("lines__tax_amount"),
    )
    off = lines.filter(
        ~Q(lines_subtotal=F("subtotal"))
        | ~Q(lines_tax=F("tax_total"))
        | ~Q(grand_total=as_money(F("lines_subtotal") + F("lines_tax")))
    )
    bad_totals = dict(off.values_list("pk", "number"))
    codes = dict(
        Account.objects.filter(system_role__isnull=False).values_list("system_role", "code")
    )
    found = {pk: [] for pk in bad_totals}
    for pk, number, _, _, total, ar, cash in integrity.posting_entry_mismatches(docs, MONEY_KINDS):
        problems = found.setdefault(pk, [])
        if cash is not None:
            role, moved = cash
            problems.append(
                f"{number}: its entry moved {codes.get(role)} ({SystemRole(role).label}) by {format_money(moved)}, not {format_money(-total)}"
            )
        if ar is not None:
            problems.append(
                f"{number}: its entry moved A/R by {format_money(ar)}, not {format_money(total)}"
            )
    for pk in sorted(found):
        if pk in bad_totals:
            result.problems.append(f"{bad_totals[pk]}: totals no longer equal its lines")
        result.problems.extend(found[pk])
    result.report.append(f"{docs.count()} posted or voided documents checked")
    return result


def check_reservations() -> CheckResult:
    """What each credit holds for pending refunds equals those refunds, within its open amount."""
    result = CheckResult("4", "Pending refunds reserve no more than their credit's open amount")
    for number, reserved, pending, open_ in integrity.reservation_mismatches():
        if reserved != pending:
            result.problems.append(
                f"{number}: reserves {reserved} but pending refunds total {pending}"
            )
        if reserved > -open_:
            result.problems.append(f"{number}: reserves {reserved}, more than its open credit")
    return result


def check_credit_quantities() -> CheckResult:
    """Invariant 5: no invoice line is credited beyond its quantity, extended amount or tax
    over all its non-void memos."""
    result = CheckResult("5", "Credit memos never credit more of a line than was invoiced")
    result.problems.extend(str(line) for line in integrity.over_credited_lines())
    return result


def check_applications() -> CheckResult:
    """Every application pairs a positive and a negative posted item of one customer, and
    each stored open amount equals its total less what is applied (recomputed)."""
    result = CheckResult(
        "4", "Applications pair a positive and a negative item; open amounts recompute"
    )
    result.problems.extend(integrity.bad_applications())
    for number, stored, computed in integrity.open_amount_mismatches():
        result.problems.append(
            f"{number}: stored open {stored} but total less applications is {computed}"
        )
    recomputed = integrity.posted_open_items().exclude(posting_entry=None).count()
    result.report.append(f"{recomputed} open items recomputed from their applications")
    return result


def check_deposits_tie_out() -> CheckResult:
    """Invariant 3: the Customer Deposits account equals the unused deposit amounts, in total
    and per customer; each deposit's remaining equals its amount less what was used."""
    result = _tie_out(DEPOSITS, integrity.deposits_held(), per_customer=True)
    result.problems.extend(integrity.deposit_problems())
    return result


@register_fast
def check_deposits_total() -> CheckResult:
    """Invariant 3, totals only (one query): the dashboard's live tie-out."""
    return _tie_out(DEPOSITS, integrity.deposits_held(), per_customer=False)
