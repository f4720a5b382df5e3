"""Invariant checks behind `manage.py check_ledger`.

The ledger checks its own invariants here; apps that keep a subledger (invoicing's open
items) register theirs with `register`, so the ledger never imports them. `register_fast`
adds a cheap tie-out to `run_fast` (`check_ledger --fast`, the dashboard's live status).

Every check is a fixed number of SQL aggregates that return only what is wrong (linear in
the rows, whatever their number); Python formats the mismatches, never walks all rows.
`union_sums` is the shape most of them share: rows from several querysets, added up per
key, keeping the keys whose sums disagree.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value

from ledger import selectors
from ledger.aggregates import money_sum, rounded
from ledger.models import JournalEntry, JournalLine, LedgerSettings
from ledger.money import format_money


@dataclass
class CheckResult:
    invariant: str
    title: str
    problems: list[str] = field(default_factory=list)
    report: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


_registry: list[Callable[[], CheckResult]] = []
_fast_registry: list[Callable[[], CheckResult]] = []


def register(check: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
    if check not in _registry:
        _registry.append(check)
    return check


def register_fast(check: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
    if check not in _fast_registry:
        _fast_registry.append(check)
    return check


# --- the shared shape: sums per key over a union of querysets ---------------------------


def union_sums(
    parts: Sequence[tuple[QuerySet, Sequence, Sequence]],
    *,
    having: str,
    money: bool = True,
) -> list[tuple]:
    """[(key…, sum…)] of `parts` — each (queryset, key expressions, amount expressions),
    the same number of each in every part — unioned (UNION ALL), grouped by the keys, for
    the groups where `having` holds. `having` is SQL over SUM(v0), SUM(v1), … (the amount
    columns in order), e.g. "ROUND(SUM(v0) - SUM(v1), 2) <> 0". Sums come back rounded
    to cents (Decimals on every database). One query, one pass over each part."""
    sqls, params = [], []
    for qs, keys, amounts in parts:
        names = {f"k{i}": k for i, k in enumerate(keys)}
        names.update({f"v{i}": v for i, v in enumerate(amounts)})
        part = qs.order_by().annotate(**names).values_list(*names)
        sql, part_params = part.query.sql_with_params()
        sqls.append(sql)
        params.extend(part_params)
    n_keys, n_amounts = len(parts[0][1]), len(parts[0][2])
    keys = ", ".join(f"u.k{i}" for i in range(n_keys))
    sums = ", ".join(f"SUM(u.v{i})" for i in range(n_amounts))
    query = (
        f"SELECT {keys}, {sums} FROM ({' UNION ALL '.join(sqls)}) u "  # noqa: S608 - ours
        f"GROUP BY {keys} HAVING {having}"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    if not money:
        return rows
    return [
        (*row[:n_keys], *(rounded(v if v is not None else 0) for v in row[n_keys:])) for row in rows
    ]


# --- the ledger's own invariants ------------------------------------------------------------


def check_balanced_entries() -> CheckResult:
    result = CheckResult(
        "1", "Every journal entry balances; each line is a positive debit xor credit"
    )
    for entry_id, dr, cr in selectors.unbalanced_entries():
        result.problems.append(
            f"JE-{entry_id:06d}: debits {format_money(dr)} != credits {format_money(cr)}"
        )
    bad_lines = JournalLine.objects.filter(
        ~((Q(debit__gt=0) & Q(credit=0)) | (Q(credit__gt=0) & Q(debit=0)))
    ).values_list("id", "entry_id")
    for line_id, entry_id in bad_lines:
        result.problems.append(f"line {line_id} of JE-{entry_id:06d} is not one positive side")
    result.report.append(_trial_balance_totals(result))
    return result


def _trial_balance_totals(result: CheckResult) -> str:
    """Debits and credits of every line, and how many accounts have any: one aggregate."""
    totals = JournalLine.objects.aggregate(
        dr=money_sum("debit"), cr=money_sum("credit"), accounts=Count("account", distinct=True)
    )
    if totals["dr"] != totals["cr"]:
        result.problems.append("trial balance debits and credits differ")
    return (
        f"trial balance: debits {format_money(totals['dr'])}, credits "
        f"{format_money(totals['cr'])}, {totals['accounts']} accounts"
    )


def check_entries_immutable() -> CheckResult:
    """Invariant 6 on the ledger side: an entry has lines and is reversed at most once;
    a reversal mirrors its original line for line."""
    result = CheckResult("6", "Journal entries are never changed; corrections are reversals")
    lines = JournalLine.objects.filter(entry=OuterRef("pk"))
    # An entry for a zero-total document legitimately has no lines.
    empty = JournalEntry.objects.filter(~Exists(lines)).exclude(source_ref__gt="")
    for pk in empty.order_by("id").values_list("pk", flat=True):
        result.problems.append(f"JE-{pk:06d} has no lines and no source document")
    for pk, original in _not_mirrored_reversals():
        result.problems.append(f"JE-{pk:06d} is not the exact reverse of JE-{original:06d}")
    return result


def _not_mirrored_reversals() -> list[tuple[int, int]]:
    """(reversal id, original id) of every reversal whose lines, as a multiset of (account,
    customer, debit, credit), aren't its original's with debits and credits swapped: each
    reversal line counts +1, each original line (sides swapped) −1, per identical line;
    any count left over is a difference. One query."""
    reversal_lines = JournalLine.objects.filter(entry__reversal_of__isnull=False)
    original_lines = JournalLine.objects.filter(entry__reversed_by__isnull=False)
    rows = union_sums(
        [
            (
                reversal_lines,
                [
                    F("entry_id"),
                    F("entry__reversal_of_id"),
                    F("account_id"),
                    F("customer_id"),
                    F("debit"),
                    F("credit"),
                ],
                [Value(1)],
            ),
            (
                original_lines,
                [
                    F("entry__reversed_by__id"),
                    F("entry_id"),
                    F("account_id"),
                    F("customer_id"),
                    F("credit"),
                    F("debit"),
                ],
                [Value(-1)],
            ),
        ],
        having="SUM(u.v0) <> 0",
        money=False,
    )
    return sorted({(row[0], row[1]) for row in rows})


def check_closed_period() -> CheckResult:
    result = CheckResult("7", "Nothing is posted on or before the books-closed date")
    settings = LedgerSettings.load()
    closed = settings.books_closed_through
    if closed is None:
        result.report.append("books open (no closed date)")
        return result
    result.report.append(f"books closed through {closed:%Y-%m-%d}")
    # An entry dated in the closed period is fine only if it was written before the books
    # were closed through that date.
    closed_at = settings.closed_at
    if closed_at is None:
        result.report.append(
            "when the books were closed is unknown (set outside the admin); not checked"
        )
        return result
    late = JournalEntry.objects.filter(date__lte=closed, posted_at__gt=closed_at)
    for pk, date in late.order_by("id").values_list("pk", "date"):
        result.problems.append(f"JE-{pk:06d} dated {date} was posted after the close")
    return result


def check_totals_balance() -> CheckResult:
    """The fast form of invariant 1: all debits equal all credits (one aggregate)."""
    result = CheckResult("1", "Debits equal credits over all journal lines")
    result.report.append(_trial_balance_totals(result))
    return result


def run_all() -> list[CheckResult]:
    checks = [check_balanced_entries, check_entries_immutable, check_closed_period, *_registry]
    return [check() for check in checks]


def run_fast() -> list[CheckResult]:
    """The cheap tie-outs only (a few aggregate queries, for the dashboard's live status
    and `check_ledger --fast`): debits = credits, and the registered subledger totals
    (A/R control = open items, Customer Deposits = unused deposits)."""
    return [check() for check in [check_totals_balance, *_fast_registry]]
