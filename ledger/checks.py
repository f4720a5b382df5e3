"""Invariant checks behind `manage.py check_ledger`.

The ledger checks its own invariants here; apps that keep a subledger (invoicing's open
items) register theirs with `register`, so the ledger never imports them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Count, Q

from ledger import selectors
from ledger.models import JournalEntry, JournalLine, LedgerSettings
from ledger.money import ZERO, format_money


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


def register(check: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
    if check not in _registry:
        _registry.append(check)
    return check


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
    tb = selectors.trial_balance()
    total_dr = sum((r["debit"] for r in tb), ZERO)
    total_cr = sum((r["credit"] for r in tb), ZERO)
    result.report.append(
        f"trial balance: debits {format_money(total_dr)}, credits {format_money(total_cr)}, "
        f"{len(tb)} accounts"
    )
    if total_dr != total_cr:
        result.problems.append("trial balance debits and credits differ")
    return result


def check_entries_immutable() -> CheckResult:
    """Invariant 6 on the ledger side: an entry has lines and is reversed at most once;
    a reversal mirrors its original line for line."""
    result = CheckResult("6", "Journal entries are never changed; corrections are reversals")
    empty = JournalEntry.objects.annotate(n=Count("lines")).filter(n=0)
    # An entry for a zero-total document legitimately has no lines.
    for entry in empty.exclude(source_ref__gt=""):
        result.problems.append(f"{entry.number} has no lines and no source document")
    reversals = JournalEntry.objects.filter(reversal_of__isnull=False).prefetch_related(
        "lines", "reversal_of__lines"
    )
    for rev in reversals:
        mine = sorted(
            (line.account_id, line.customer_id, line.debit, line.credit) for line in rev.lines.all()
        )
        theirs = sorted(
            (line.account_id, line.customer_id, line.credit, line.debit)
            for line in rev.reversal_of.lines.all()
        )
        if mine != theirs:
            result.problems.append(
                f"{rev.number} is not the exact reverse of {rev.reversal_of.number}"
            )
    return result


def check_closed_period() -> CheckResult:
    result = CheckResult("7", "Nothing is posted on or before the books-closed date")
    closed = LedgerSettings.load().books_closed_through
    if closed is None:
        result.report.append("books open (no closed date)")
        return result
    result.report.append(f"books closed through {closed:%Y-%m-%d}")
    # An entry dated in the closed period is fine only if it was written before the books
    # were closed through that date.
    closed_at = LedgerSettings.load().closed_at
    if closed_at is None:
        result.report.append(
            "when the books were closed is unknown (set outside the admin); not checked"
        )
        return result
    late = JournalEntry.objects.filter(date__lte=closed, posted_at__gt=closed_at)
    for entry in late:
        result.problems.append(f"{entry.number} dated {entry.date} was posted after the close")
    return result


def run_all() -> list[CheckResult]:
    checks = [check_balanced_entries, check_entries_immutable, check_closed_period, *_registry]
    return [check() for check in checks]
