"""Reads of the general ledger: accounts, balances, entries."""

import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import F, Q, Subquery

from ledger.aggregates import money_sum
from ledger.exceptions import SystemAccountMissing
from ledger.models import (
    Account,
    IdempotencyKey,
    JournalEntry,
    JournalLine,
    LedgerSettings,
    SystemRole,
)


def books_closed_through() -> Subquery:
    """The books-closed date as a column, so a service's locking SELECT reads it in the
    same statement (`annotate(books_closed=books_closed_through())`); NULL while open."""
    return Subquery(LedgerSettings.objects.filter(pk=1).values("books_closed_through")[:1])


# A text fingerprint of every system-role account, computed by the database:
# `ledger.services.posting_state` reads it in the posting's settings statement, so the
# per-process cache below is checked against the database in every posting transaction,
# at no extra query, whichever gunicorn process changed the chart (or a test flushed it).
_FINGERPRINT_ROW = "id || ':' || system_role || ':' || is_active || ':' || code || ':' || name"
SYSTEM_ACCOUNTS_FINGERPRINT = {
    "postgresql": (
        f"SELECT string_agg({_FINGERPRINT_ROW.replace('is_active', 'is_active::text')}, ',' "  # noqa: S608 - our table
        f"ORDER BY id) FROM {Account._meta.db_table} WHERE system_role IS NOT NULL"
    ),
    "sqlite": (
        f"SELECT group_concat(r, ',') FROM (SELECT {_FINGERPRINT_ROW} AS r "  # noqa: S608 - our table
        f"FROM {Account._meta.db_table} WHERE system_role IS NOT NULL ORDER BY id)"
    ),
}
_cached: dict = {"fingerprint": None, "accounts": {}}


def system_accounts(*roles: str, fingerprint: str | None = None) -> dict[str, Account]:
    """{role: account} for the system roles asked for (ledger.models.SystemRole), in one
    query. Accountants may change the chart and tests flush it, so the accounts are read
    every time — unless the caller passes the `fingerprint` it read in its transaction
    (`ledger.services.posting_state`): the accounts this process last read with the same
    fingerprint are the database's, and are used without a query. Raises
    SystemAccountMissing naming any role no account holds."""
    if fingerprint is not None and fingerprint == _cached["fingerprint"]:
        every = _cached["accounts"]
    else:
        every = {a.system_role: a for a in Account.objects.filter(system_role__isnull=False)}
        if fingerprint is not None:
            _cached.update(fingerprint=fingerprint, accounts=every)
    found = {role: every[role] for role in set(roles) if role in every}
    missing = [role for role in dict.fromkeys(roles) if role not in found]
    if missing:
        labels = ", ".join(f"{SystemRole(r).label} ({r})" for r in missing)
        raise SystemAccountMissing(
            f"No account has the system role {labels}; the chart of accounts needs one "
            "(re-run the ledger's migrations to seed it).",
            code="system_account_missing",
        )
    return found


def system_account(role: str) -> Account:
    """The account that holds a system role (A/R control, Customer Deposits, Bank, …)."""
    return system_accounts(role)[role]


def role_account_code(role: str) -> str | None:
    """The code of the account holding a system role, for messages; None if none does."""
    return Account.objects.filter(system_role=role).values_list("code", flat=True).first()


def _account_filter(account: Account | str) -> dict:
    """Lines of an Account, or of the account holding a system role."""
    if isinstance(account, Account):
        return {"account": account}
    return {"account__system_role": SystemRole(account)}


def _lines(as_of: datetime.date | None):
    lines = JournalLine.objects.all()
    if as_of is not None:
        lines = lines.filter(entry__date__lte=as_of)
    return lines


def account_balance(account: Account | str, *, as_of: datetime.date | None = None) -> Decimal:
    """Debit-positive balance of one account (an Account, or a SystemRole)."""
    totals = (
        _lines(as_of)
        .filter(**_account_filter(account))
        .aggregate(dr=money_sum("debit"), cr=money_sum("credit"))
    )
    return totals["dr"] - totals["cr"]


def account_balances_by_customer(
    account: Account | str, *, as_of=None
) -> dict[int | None, Decimal]:
    """Debit-positive balance per customer of one account (an Account, or a SystemRole)."""
    rows = (
        _lines(as_of)
        .filter(**_account_filter(account))
        .values("customer_id")
        .annotate(dr=money_sum("debit"), cr=money_sum("credit"))
    )
    return {r["customer_id"]: r["dr"] - r["cr"] for r in rows}


def trial_balance(*, as_of=None) -> list[dict]:
    """One row per account with activity: code, name, debit total, credit total."""
    rows = (
        _lines(as_of)
        .values("account__code", "account__name")
        .annotate(dr=money_sum("debit"), cr=money_sum("credit"))
        .order_by("account__code")
    )
    return [
        {
            "code": r["account__code"],
            "name": r["account__name"],
            "debit": r["dr"],
            "credit": r["cr"],
        }
        for r in rows
    ]


def unbalanced_entries() -> list[tuple[int, Decimal, Decimal]]:
    rows = (
        JournalLine.objects.values("entry_id")
        .annotate(dr=money_sum("debit"), cr=money_sum("credit"))
        .filter(~Q(dr=F("cr")))
    )
    return [(r["entry_id"], r["dr"], r["cr"]) for r in rows]


def entries_for_source(source) -> list[JournalEntry]:
    """The entries a document or deposit wrote, oldest first, each with its lines (and
    their accounts) in `entry.lines.all()` — one query: the lines with their entry."""
    lines = (
        JournalLine.objects.filter(
            entry__source_type=ContentType.objects.get_for_model(source),
            entry__source_id=source.pk,
        )
        .select_related("entry", "account")
        .order_by("entry_id", "id")
    )
    entries: dict[int, JournalEntry] = {}
    grouped: dict[int, list[JournalLine]] = {}
    for line in lines:
        entries.setdefault(line.entry_id, line.entry)
        grouped.setdefault(line.entry_id, []).append(line)
    for entry_id, entry in entries.items():
        cached = entry.lines.all()  # filled by hand, as prefetch_related would
        cached._result_cache = grouped[entry_id]
        cached._prefetch_done = True
        entry._prefetched_objects_cache = {"lines": cached}
    return list(entries.values())


def key_result(key: str):
    """What the request that used an idempotency key produced (`ledger.idempotency`), or
    None if the key is unused — for scripts (seed_demo) that must add a thing only once."""
    row = IdempotencyKey.objects.filter(key=key).select_related("result_type").first()
    return None if row is None else row.result
