"""What check_ledger finds wrong in the subledger, each as a fixed number of SQL
aggregates returning only the mismatches (linear in the documents): open amounts that
don't recompute, applications that don't pair, credits beyond an invoice line, deposits
whose remaining or reserved is off, and the subledger's sums per customer against the
control accounts. Used by invoicing.checks only; the shared selectors keep their own."""

from decimal import Decimal

from django.db.models import BooleanField, Case, F, Q, Value, When

from invoicing.models import (
    Application,
    Deposit,
    DepositApplication,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.selectors.credit_memos import OverCreditedLine
from invoicing.selectors.deposits import deposits_with_usage
from ledger.aggregates import as_money, money_sum, quantity_sum
from ledger.checks import union_sums
from ledger.models import JournalLine, SystemRole

DIFFERENT = "ROUND(SUM(u.v0) - SUM(u.v1), 2) <> 0"
EVERY_GROUP = "COUNT(*) > 0"
# v0 ≠ v1 in a group holding a document (its part sets v2 to 1).
DIFFERENT_WITH_DOCUMENT = "SUM(u.v2) > 0 AND ROUND(SUM(u.v0) - SUM(u.v1), 2) <> 0"


def _control_parts(role: str, sign: int, subledger):
    """(control lines of the account of `role`, signed `sign`) vs `subledger` (queryset,
    amount): the parts of `union_sums` per customer."""
    lines = JournalLine.objects.filter(account__system_role=role)
    amount = F("debit") - F("credit") if sign > 0 else F("credit") - F("debit")
    queryset, subledger_amount = subledger
    return [
        (lines, [F("customer_id")], [amount, Value(0)]),
        (queryset, [F("customer_id")], [Value(0), subledger_amount]),
    ]


def control_totals(role: str, sign: int, subledger) -> tuple[Decimal, Decimal]:
    """(control account balance, subledger total), in one query."""
    parts = [(qs, [Value(1)], amounts) for qs, _, amounts in _control_parts(role, sign, subledger)]
    rows = union_sums(parts, having=EVERY_GROUP)
    return (rows[0][1], rows[0][2]) if rows else (Decimal("0.00"), Decimal("0.00"))


def control_mismatches(role: str, sign: int, subledger) -> list[tuple]:
    """[(customer id or None, control, subledger)] for each customer whose control lines
    (debit-positive if `sign` > 0) don't add up to their subledger amount; None collects
    the control lines that name no customer. One query."""
    rows = union_sums(_control_parts(role, sign, subledger), having=DIFFERENT)
    return sorted(rows, key=lambda row: (row[0] is not None, row[0] or 0))


def posted_open_items():
    """The documents whose open amounts the subledger sums (and check_ledger recomputes)."""
    return Document.objects.filter(status=DocumentStatus.POSTED)


def open_amount_mismatches() -> list[tuple[str, Decimal, Decimal]]:
    """[(number, stored open, total less applications)] of every posted document whose
    stored `balance_due` isn't its total less its applications in force (as target −, as
    source +) and its deposit applications: `computed_open_amounts` in one query (a group
    counts only if a posted document is in it, v2)."""
    posted = posted_open_items().exclude(posting_entry=None)
    in_force = Application.objects.filter(removed_at__isnull=True)
    deposits = DepositApplication.objects.filter(removed_at__isnull=True)
    rows = union_sums(
        [
            (posted, [F("id")], [F("balance_due"), F("grand_total"), Value(1)]),
            (in_force, [F("target_id")], [Value(0), -F("amount"), Value(0)]),
            (in_force, [F("source_id")], [Value(0), F("amount"), Value(0)]),
            (deposits, [F("invoice_id")], [Value(0), -F("amount"), Value(0)]),
        ],
        having=DIFFERENT_WITH_DOCUMENT,
    )
    numbers = _numbers(row[0] for row in rows)
    return [(numbers[pk], stored, computed) for pk, stored, computed, _ in sorted(rows)]


def _cash_role():
    """The system role of the account a payment's or refund's method moves money through
    (`PaymentMethod.cash_account_role`), as an SQL expression over the document's method."""
    whens = [
        When(method=method, then=Value(str(PaymentMethod.cash_account_role(method))))
        for method in PaymentMethod.values
    ]
    return Case(*whens, default=Value(str(SystemRole.BANK)))


CASH_ROLES = sorted({str(PaymentMethod.cash_account_role(m)) for m in PaymentMethod.values})


def posting_entry_mismatches(docs, money_kinds) -> list[tuple]:
    """[(document id, number, kind, method, total, A/R moved or None, (role, cash moved) or
    None)] of `docs` whose posting entry didn't move A/R by the total, or (for
    `money_kinds`) the method's cash account by minus the total. Two queries keyed by
    entry (lines are summed per entry and role, never sorted per document), and one more
    for the documents found."""
    moved = F("debit") - F("credit")
    ar = union_sums(
        [
            (docs, [F("posting_entry_id")], [F("grand_total"), Value(0), Value(1)]),
            (
                JournalLine.objects.filter(account__system_role=SystemRole.RECEIVABLE),
                [F("entry_id")],
                [Value(0), moved, Value(0)],
            ),
        ],
        having=DIFFERENT_WITH_DOCUMENT,
    )
    cash = union_sums(
        [
            (
                docs.filter(kind__in=money_kinds),
                [F("posting_entry_id"), _cash_role()],
                [-F("grand_total"), Value(0), Value(1)],
            ),
            (
                JournalLine.objects.filter(account__system_role__in=CASH_ROLES),
                [F("entry_id"), F("account__system_role")],
                [Value(0), moved, Value(0)],
            ),
        ],
        having=DIFFERENT_WITH_DOCUMENT,
    )
    ar_moved = {entry: got for entry, _, got, _ in ar}
    cash_moved = {entry: (role, got) for entry, role, _, got, _ in cash}
    entries = set(ar_moved) | set(cash_moved)
    if not entries:
        return []
    rows = Document.objects.filter(posting_entry__in=entries).values_list(
        "pk", "number", "kind", "method", "grand_total", "posting_entry_id"
    )
    return sorted(
        (pk, number, kind, method, total, ar_moved.get(entry), cash_moved.get(entry))
        for pk, number, kind, method, total, entry in rows
    )


def _numbers(ids) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    return dict(Document.objects.filter(pk__in=ids).values_list("pk", "number"))


def bad_applications() -> list[str]:
    """`open_items.bad_applications`, filtered in SQL: only the applications that pair
    documents of different customers, don't pair a positive and a negative item, or are in
    force on a document that isn't posted."""
    posted = Q(target__status=DocumentStatus.POSTED, source__status=DocumentStatus.POSTED)
    customers = Q(target__customer=F("source__customer")) & Q(target__customer=F("customer"))
    signs = Q(target__grand_total__gt=0, source__grand_total__lt=0)
    bad = Application.objects.filter(
        ~customers | ~signs | (Q(removed_at__isnull=True) & ~posted)
    ).annotate(
        customers_ok=_flag(customers),
        signs_ok=_flag(signs),
        posted_ok=_flag(posted),
    )
    problems = []
    rows = bad.order_by("pk").values_list(
        "pk", "customers_ok", "signs_ok", "posted_ok", "removed_at"
    )
    for pk, customers_ok, signs_ok, posted_ok, removed_at in rows:
        if not customers_ok:
            problems.append(f"application {pk} pairs documents of different customers")
        if not signs_ok:
            problems.append(f"application {pk} doesn't pair a positive and a negative item")
        if removed_at is None and not posted_ok:
            problems.append(f"application {pk} is in force on a document that isn't posted")
    return problems


def _flag(condition: Q):
    return Case(
        When(condition, then=Value(True)), default=Value(False), output_field=BooleanField()
    )


def over_credited_lines() -> list[OverCreditedLine]:
    """`credit_memos.over_credited_lines` as one grouped query: the invoice lines whose
    non-void memo lines, together, credit more quantity, amount or tax than was invoiced
    (in the line's direction; anything at all of a zero measure)."""
    memo_lines = DocumentLine.objects.filter(source_line__isnull=False).exclude(
        document__status=DocumentStatus.VOID
    )
    rows = memo_lines.values(
        "source_line",
        "source_line__document__number",
        "source_line__position",
        "source_line__quantity",
        "source_line__extended_amount",
        "source_line__tax_amount",
    ).annotate(
        quantity=quantity_sum("quantity"),
        extended=money_sum("extended_amount"),
        tax=money_sum("tax_amount"),
    )
    measures = (
        ("quantity", "source_line__quantity", "quantity"),
        ("amount", "source_line__extended_amount", "extended"),
        ("tax", "source_line__tax_amount", "tax"),
    )
    exceeds = Q()
    for _, invoiced, credited in measures:
        # Memo lines carry the opposite sign: credited = −sum.
        exceeds |= (
            Q(**{invoiced: 0}) & ~Q(**{credited: 0})
            | Q(**{f"{invoiced}__gt": 0, f"{credited}__lt": -F(invoiced)})
            | Q(**{f"{invoiced}__lt": 0, f"{credited}__gt": -F(invoiced)})
        )
    problems = []
    for row in rows.filter(exceeds).order_by(
        "source_line__document__number", "source_line__position"
    ):
        for measure, invoiced, credited in measures:
            done, had = -row[credited], row[invoiced]
            sign = 1 if had > 0 else -1
            if (had == 0 and done != 0) or (had != 0 and done * sign > had * sign):
                problems.append(
                    OverCreditedLine(
                        row["source_line__document__number"],
                        row["source_line__position"],
                        measure,
                        had,
                        done,
                    )
                )
    return problems


def deposit_problems() -> list[str]:
    """`deposits.deposit_amount_problems`, filtered in SQL: the posted deposits whose
    remaining isn't amount − applied − refunded, or whose reserved isn't what pending
    refunds hold."""
    deposits = deposits_with_usage().filter(status=DocumentStatus.POSTED)
    expected = as_money(F("amount") - F("used") - F("refunded"))
    wrong = deposits.annotate(expected=expected).filter(
        ~Q(remaining=F("expected")) | ~Q(reserved=F("pending"))
    )
    problems = []
    rows = wrong.order_by("pk").values_list(
        "number", "remaining", "expected", "reserved", "pending"
    )
    for number, remaining, expected_left, reserved, pending in rows:
        if remaining != expected_left:
            problems.append(
                f"{number}: remaining {remaining} but amount less used and refunded is {expected_left}"
            )
        if reserved != pending:
            problems.append(f"{number}: reserves {reserved} but pending refunds total {pending}")
    return problems


def deposits_held():
    """(posted deposits, what is left on them): the Customer Deposits subledger."""
    return Deposit.objects.filter(status=DocumentStatus.POSTED), F("remaining")


def reservation_mismatches() -> list[tuple[str, Decimal, Decimal, Decimal]]:
    """[(number, reserved, pending refunds, open)] of the documents that reserve, or have
    pending refunds, where the reservation isn't those refunds' total or exceeds the open
    credit. Two queries."""
    pending = Document.objects.filter(kind=DocumentKind.REFUND, status=DocumentStatus.DRAFT)
    rows = union_sums(
        [
            (Document.objects.filter(reserved__gt=0), [F("id")], [F("reserved"), Value(0)]),
            (pending, [F("refund_of_id")], [Value(0), F("grand_total")]),
        ],
        having=DIFFERENT,
    )
    wrong = {pk: (reserved, held) for pk, reserved, held in rows}
    has_pending = Q(pk__in=pending.values("refund_of"))
    over = Document.objects.filter(Q(reserved__gt=0) | has_pending, reserved__gt=-F("balance_due"))
    found = {}
    for pk, number, reserved, open_ in over.values_list("pk", "number", "reserved", "balance_due"):
        found[pk] = (number, reserved, wrong.get(pk, (reserved, reserved))[1], open_)
    missing = [pk for pk in wrong if pk not in found]
    if missing:
        for pk, number, reserved, open_ in Document.objects.filter(pk__in=missing).values_list(
            "pk", "number", "reserved", "balance_due"
        ):
            found[pk] = (number, reserved, wrong[pk][1], open_)
    for pk, (reserved, held) in wrong.items():
        number, _, _, open_ = found[pk]
        found[pk] = (number, reserved, held, open_)
    return [found[pk] for pk in sorted(found)]
