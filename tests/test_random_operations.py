"""A stateful random test of the A/R services (issue 10, "Prove it").

A `RuleBasedStateMachine` drives every public service with random operations over three
customers and users of each role — invoices and credit memos (standalone and from an
invoice, with fractional quantities), payments (with planned allocations and earmarks on
drafts), Apply Credit and Unapply, refunds by every method (store credit included),
customer deposits and their refunds, the books-closed date moving forward — with cent
edge cases, dates out of range, the wrong user, the wrong kind of document and
idempotency keys sent twice or reused.

A service may refuse with ValidationError or PermissionDenied; anything else fails the test
(a 500). After every step:

- every `check_ledger` invariant holds (`ledger_problems()` is empty);
- a refused operation, and one sent with a key already used, changed nothing (a
  fingerprint of row counts and every document's and deposit's balances);
- posted documents and journal entries never change; money never leaves without a Poster
  other than the preparer; every date an action wrote is a business date.

CI budget: RANDOM_OPS_EXAMPLES (default 15) × RANDOM_OPS_STEPS (default 30).
A long campaign with a printed seed: `make fuzz` (FUZZ_SEED=… to replay one).
RANDOM_OPS_DATABASE names a local example database (e.g. .hypothesis/random-ops, ignored by
git); without it nothing is stored and a failure is replayed from the printed seed.
"""

import datetime
import os
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from customers.models import Customer
from invoicing import selectors, services
from invoicing.allocator import Allocation
from invoicing.models import (
    Application,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentLine,
    DocumentStatus,
    Item,
    PlannedApplication,
    TaxProfile,
)
from invoicing.selectors import computed_open_amounts
from invoicing.selectors.aging import aging_totals, open_amounts_as_of
from invoicing.services import LineInput
from ledger.exceptions import UnbalancedEntry
from ledger.models import (
    AuditEvent,
    IdempotencyKey,
    JournalEntry,
    JournalLine,
    LedgerSettings,
    SystemRole,
)
from ledger.selectors import account_balance
from ledger.services import books_close
from tests.factories import CustomerFactory, make_user
from tests.invoicing.books import fast_password_hashing, ledger_problems  # noqa: F401

D = Decimal
CENT = D("0.01")
EXAMPLES = int(os.environ.get("RANDOM_OPS_EXAMPLES", "15"))
STEPS = int(os.environ.get("RANDOM_OPS_STEPS", "30"))
DATABASE = os.environ.get("RANDOM_OPS_DATABASE", "")

INVOICE, CREDIT_MEMO, PAYMENT, REFUND = (
    DocumentKind.INVOICE,
    DocumentKind.CREDIT_MEMO,
    DocumentKind.PAYMENT,
    DocumentKind.REFUND,
)
DRAFT, POSTED, VOID = DocumentStatus.DRAFT, DocumentStatus.POSTED, DocumentStatus.VOID

# What the campaign did, printed at its end (pytest -s, or `make fuzz`).
OUTCOMES: Counter = Counter()
RUN = {"examples": 0, "steps": 0}

PEOPLE = {
    "rep1": "A/R rep",
    "rep2": "A/R rep",
    "poster1": "Poster",
    "poster2": "Poster",
    "accountant": "Accountant",
    "nobody": None,
}
POSTERS = {"poster1", "poster2"}

# --- strategies ------------------------------------------------------------------------------


def mostly(usual, rare, *, odds: int = 5):
    """`usual` about `odds` times out of `odds + 1`, else `rare`; shrinks towards `usual`.
    (`one_of` would draw each branch half the time: it merges repeated branches.)"""
    return st.sampled_from([False] * odds + [True]).flatmap(lambda r: rare if r else usual)


# Who acts: mostly someone whose role fits the rule (shrinking goes to the first), sometimes
# the wrong role or nobody.
rep_work = mostly(
    st.sampled_from(["rep1", "rep2", "poster1", "poster2"]),
    st.sampled_from(["accountant", "nobody"]),
)
poster_work = mostly(
    st.sampled_from(["poster1", "poster2"]), st.sampled_from(["rep1", "accountant", "nobody"])
)
accountant_work = mostly(st.just("accountant"), st.sampled_from(["poster1", "rep1", "nobody"]))

# Mostly two customers (their documents meet); sometimes a third.
customer_index = mostly(st.integers(0, 1), st.just(2), odds=7)
pick = st.integers(0, 63)
# True: pick among every row, not only those the rule fits (wrong kind, wrong state).
anything = st.integers(0, 6).map(lambda n: n == 6)

EDGE_AMOUNTS = [
    D("0.01"),
    D("0.005"),
    D("10.01"),
    D("999999999999.99"),
    D("1000000000000.00"),
    D("-5.00"),
    D("0"),
    D("0.10"),
    D("33.33"),
]
# An amount: mostly one relative to what the target can take ("all" of it, a cent more or
# less, half, a third); else any amount in cents, or an edge case.
amounts = mostly(
    st.sampled_from(["all", "half", "all+0.01", "all-0.01", "third"]),
    st.one_of(
        st.decimals(min_value=D("0.01"), max_value=D("3000"), places=2),
        st.sampled_from(EDGE_AMOUNTS),
    ),
    odds=2,
)

EDGE_PRICES = [
    D("10.01"),
    D("0.01"),
    D("0.005"),
    D("999999999999.99"),
    D("-20.00"),
    D("0"),
    D("33.33"),
]
prices = mostly(
    st.decimals(min_value=D("0.01"), max_value=D("2000"), places=2),
    st.sampled_from(EDGE_PRICES),
    odds=2,
)
quantities = mostly(
    st.sampled_from([D("1"), D("2"), D("0.5"), D("0.3333"), D("3"), D("1.25")]),
    st.sampled_from([D("-1"), D("0"), D("0.00001"), D("99999999")]),
)
line_specs = st.tuples(
    st.sampled_from(["PRT", "SVC", "SHIP", "REW"]),
    quantities,
    prices,
    st.sampled_from(["OUT", "STD"]),
    mostly(st.just(D("0")), st.sampled_from([D("1.00"), D("0.005")])),
)
lines = mostly(
    st.lists(line_specs, min_size=1, max_size=3), st.lists(line_specs, max_size=0), odds=15
)

# Quantities a credit memo takes of an invoice line: None skips the line, "rest" takes what
# is left of it.
memo_quantities = st.lists(
    mostly(
        st.sampled_from([D("0.5"), "rest", D("0.3333"), None, D("1"), D("0.25"), D("0.6667")]),
        st.sampled_from([D("2"), D("-1"), D("0.00001"), D("100000000")]),
    ),
    min_size=1,
    max_size=3,
)

EDGE_DATES = [
    ("abs", datetime.date.min),
    ("abs", datetime.date(9999, 12, 31)),
    ("abs", datetime.date(1999, 12, 31)),
    ("today", 365),
    ("today", 366),
    ("today", 4000),
    ("closed", 0),
    ("closed", 1),
    ("doc", -1),
]
# The date of something new: around today, or an edge case.
new_dates = mostly(st.integers(-60, 20).map(lambda n: ("today", n)), st.sampled_from(EDGE_DATES))
# The date of an action on something: the service's default (today), on or after the
# document's date, around today, or an edge case (before the document, before the close).
action_dates = mostly(
    st.one_of(st.none(), st.integers(0, 10).map(lambda n: ("doc", n))),
    st.one_of(
        st.integers(-30, 5).map(lambda n: ("today", n)),
        st.sampled_from(EDGE_DATES),
    ),
    odds=3,
)

# Idempotency keys: none, a fresh one, a fresh one sent twice, or one used before.
keys = st.tuples(st.sampled_from(["none", "none", "new", "twice", "reuse"]), st.integers(0, 63))

PAYMENT_METHODS = mostly(
    st.sampled_from(["check", "eft", "card", "cash"]), st.sampled_from(["store_credit", "bitcoin"])
)
REFUND_METHODS = mostly(
    st.sampled_from(["check", "store_credit", "eft", "card", "cash"]), st.just("bitcoin")
)
# A deposit is refunded as money only (store credit would be a deposit of a deposit).
DEPOSIT_REFUND_METHODS = mostly(
    st.sampled_from(["check", "eft", "card", "cash"]), st.sampled_from(["store_credit", "bitcoin"])
)


# --- what must not change --------------------------------------------------------------------


COUNTED = (
    Document,
    DocumentLine,
    Application,
    Deposit,
    DepositApplication,
    DepositRefund,
    JournalEntry,
    JournalLine,
    PlannedApplication,
    AuditEvent,
    IdempotencyKey,
)


def count_rows(counts: dict[str, tuple]) -> dict[str, int]:
    """{name: (model, SQL condition)} counted in one query (a round trip per count is most
    of a step's time on PostgreSQL)."""
    parts = [
        f"(SELECT COUNT(*) FROM {model._meta.db_table} WHERE {where})"  # noqa: S608 - ours
        for model, where in counts.values()
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        return dict(zip(counts, cursor.fetchone(), strict=True))


def fingerprint() -> dict:
    """Everything a refused operation must leave as it was."""
    counts = count_rows({model.__name__: (model, "1 = 1") for model in COUNTED})
    return {
        "counts": counts,
        "documents": list(
            Document.objects.order_by("pk").values_list(
                "pk",
                "status",
                "balance_due",
                "reserved",
                "grand_total",
                "customer_id",
                "date",
                "version",
            )
        ),
        "lines": list(
            DocumentLine.objects.order_by("pk").values_list(
                "pk", "document_id", "quantity", "extended_amount", "tax_amount"
            )
        ),
        "deposits": list(
            Deposit.objects.order_by("pk").values_list("pk", "status", "remaining", "reserved")
        ),
        "applications": list(
            Application.objects.order_by("pk").values_list("pk", "amount", "removed_on")
        ),
        "deposit_applications": list(
            DepositApplication.objects.order_by("pk").values_list("pk", "amount", "removed_on")
        ),
        "deposit_refunds": list(
            DepositRefund.objects.order_by("pk").values_list("pk", "status", "amount")
        ),
        "books_closed_through": LedgerSettings.load().books_closed_through,
    }


def difference(before: dict, after: dict) -> str:
    parts = []
    for name in before:
        if before[name] != after[name]:
            if isinstance(before[name], list):
                was, now = set(before[name]), set(after[name])
                parts.append(f"{name}: gone {sorted(was - now)}; new {sorted(now - was)}")
            else:
                parts.append(f"{name}: {before[name]} -> {after[name]}")
    return "; ".join(parts)


def identity(result):
    if isinstance(result, list):
        return [type(r).__name__ + str(r.pk) for r in result]
    return None if result is None else type(result).__name__ + str(result.pk)


def refusal_code(exc) -> str:
    if isinstance(exc, PermissionDenied):
        return "permission"
    if hasattr(exc, "error_dict"):
        return "fields " + ",".join(sorted(exc.error_dict))
    return getattr(exc, "code", None) or "message"


def quantize(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# --- the machine ---------------------------------------------------------------------------------


class CreditDesk(RuleBasedStateMachine):
    """One example = one history of operations, in a savepoint rolled back at its end."""

    def __init__(self):
        super().__init__()
        self._savepoint = transaction.savepoint()
        self.today = timezone.localdate()
        User = get_user_model()
        self.users = {name: User.objects.get(username=f"fuzz-{name}") for name in PEOPLE}
        self.customers = list(Customer.objects.filter(code__startswith="FZ").order_by("code"))
        self.items = {i.code: i for i in Item.objects.all()}
        self.taxes = {t.code: t for t in TaxProfile.objects.all()}
        self.keys: list[str] = []
        self.key_count = 0
        self.posted_docs: dict[int, tuple] = {}
        self.posted_deposits: dict[int, tuple] = {}
        self.entries: dict[int, tuple] = {}
        self.dirty = True
        self._take_census()
        RUN["examples"] += 1

    def teardown(self):
        transaction.savepoint_rollback(self._savepoint)
        transaction.savepoint_commit(self._savepoint)

    # --- helpers ------------------------------------------------------------------------------

    def _user(self, name):
        return self.users[name]

    def _customer(self, index):
        return self.customers[index % len(self.customers)]

    @staticmethod
    def _choose(queryset, index):
        rows = list(queryset.order_by("pk"))
        return rows[index % len(rows)] if rows else None

    def _closed(self):
        return LedgerSettings.load().books_closed_through

    def _date(self, spec, ref=None):
        """A date from its spec, relative to today, `ref` (the document acted on) or the
        books-closed date."""
        if spec is None:
            return None
        base, offset = spec
        if base == "abs":
            return offset
        origin = {
            "today": self.today,
            "doc": ref or self.today,
            "closed": self._closed() or self.today - datetime.timedelta(days=120),
        }[base]
        try:
            return origin + datetime.timedelta(days=offset)
        except OverflowError:
            return datetime.date.max if offset > 0 else datetime.date.min

    @staticmethod
    def _amount(spec, ref):
        """An amount from its spec; relative specs use `ref`, what the target can take."""
        if isinstance(spec, Decimal):
            return spec
        ref = D(ref) if ref is not None else D("100.00")
        return {
            "all": ref,
            "all+0.01": ref + CENT,
            "all-0.01": ref - CENT,
            "half": quantize(ref / 2),
            "third": quantize(ref / 3),
        }[spec]

    def _lines(self, specs):
        return [
            LineInput(
                item=self.items[code],
                quantity=quantity,
                unit_price=price,
                unit_adjustment=adjustment,
                tax_profile=self.taxes[tax],
            )
            for code, quantity, price, tax, adjustment in specs
        ]

    def _key(self, spec):
        mode, index = spec
        if mode == "reuse" and self.keys:
            return mode, self.keys[index % len(self.keys)]
        if mode in ("new", "twice", "reuse"):
            self.key_count += 1
            return ("new" if mode == "reuse" else mode), f"fuzz-{self.key_count}"
        return mode, ""

    def _take_census(self):
        """What exists, for the rules' preconditions (read once per step that changed
        something, not once per rule)."""
        self.have = count_rows(
            {
                "documents": (Document, "1 = 1"),
                "posted": (Document, "status = 'posted'"),
                "refunds": (Document, "kind = 'refund'"),
                "applications": (Application, "1 = 1"),
                "deposits": (Deposit, "1 = 1"),
                "posted_deposits": (Deposit, "status = 'posted'"),
                "deposit_applications": (DepositApplication, "1 = 1"),
                "deposit_refunds": (DepositRefund, "1 = 1"),
            }
        )
        self.closed_through = self._closed()

    def _unchanged(self, before, why):
        after = fingerprint()
        assert after == before, f"{why} changed the books: {difference(before, after)}"

    def _call(self, name, service, key_spec=None, **kwargs):
        """Call a service. A refusal (ValidationError, PermissionDenied) must change nothing;
        so must a call with a key already used; a key sent twice returns the first result."""
        mode, key = self._key(key_spec) if key_spec is not None else ("none", "")
        if key_spec is not None:
            kwargs["key"] = key
        used = bool(key) and IdempotencyKey.objects.filter(key=key).exists()
        before = fingerprint()
        result = self._attempt(name, service, kwargs, before)
        if used:
            event(f"{name}: key reused")
            self._unchanged(before, f"{name} with a key already used")
        if key:
            self.keys.append(key)
        if mode == "twice":
            again_before = fingerprint()
            again = self._attempt(name, service, kwargs, again_before)
            assert identity(again) == identity(result), (
                f"{name} sent twice with one key: first {identity(result)}, then {identity(again)}"
            )
            self._unchanged(again_before, f"{name} sent again with its key")
        return result

    def _attempt(self, name, service, kwargs, before):
        try:
            result = service(**kwargs)
        except UnbalancedEntry:
            raise  # a service built an entry that doesn't balance: a bug, not a refusal
        except (ValidationError, PermissionDenied) as exc:
            self._count(f"{name}: refused ({refusal_code(exc)})")
            self._unchanged(before, f"refused {name} ({exc})")
            return None
        self._count(f"{name}: done")
        self.dirty = True
        return result

    @staticmethod
    def _count(outcome):
        event(outcome)
        OUTCOMES[outcome] += 1

    # --- a starting point ------------------------------------------------------------------

    @initialize(
        invoices=st.lists(
            st.tuples(customer_index, st.decimals(min_value=D("1"), max_value=D("2000"), places=2)),
            min_size=1,
            max_size=4,
        ),
        memo=st.one_of(
            st.none(), st.tuples(customer_index, st.sampled_from([D("10.01"), D("250")]))
        ),
        deposit=st.one_of(
            st.none(), st.tuples(customer_index, st.sampled_from([D("400"), D("0.01")]))
        ),
    )
    def opening_books(self, invoices, memo, deposit):
        """A few posted invoices, maybe a posted reward and a posted deposit."""
        rep, poster = self._user("rep1"), self._user("poster1")
        day = self.today - datetime.timedelta(days=45)
        for index, price in invoices:
            doc = services.document_create(
                kind=INVOICE,
                customer=self._customer(index),
                date=day,
                lines=self._lines([("SVC", D("1"), price, "OUT", D("0"))]),
                by=rep,
            )
            services.document_post(document=doc, by=poster)
        if memo is not None:
            doc = services.document_create(
                kind=CREDIT_MEMO,
                customer=self._customer(memo[0]),
                date=day,
                lines=self._lines([("REW", D("1"), memo[1], "OUT", D("0"))]),
                by=rep,
            )
            services.document_post(document=doc, by=poster)
        if deposit is not None:
            dep = services.deposit_record(
                customer=self._customer(deposit[0]),
                date=day,
                method="check",
                amount=deposit[1],
                by=rep,
            )
            services.deposit_post(deposit=dep, by=poster)

    # --- invoices and credit memos ---------------------------------------------------------

    @rule(
        kind=st.sampled_from([INVOICE, CREDIT_MEMO, INVOICE, PAYMENT]),
        customer=customer_index,
        user=rep_work,
        date=new_dates,
        lines=lines,
        key=keys,
        post_by=st.one_of(st.none(), poster_work),
    )
    def create_document(self, kind, customer, user, date, lines, key, post_by):
        """Create a draft (and maybe post it at once, as the next person would)."""
        doc = self._call(
            "document_create",
            services.document_create,
            key,
            kind=kind,
            customer=self._customer(customer),
            date=self._date(date),
            lines=self._lines(lines),
            by=self._user(user),
        )
        if doc is not None:
            assert doc.kind in (INVOICE, CREDIT_MEMO), f"the editor made a {doc.kind}"
            self._post_now(doc, post_by)

    def _post_now(self, doc, post_by):
        if doc is None or post_by is None:
            return
        if isinstance(doc, Deposit):
            self._call("deposit_post", services.deposit_post, deposit=doc, by=self._user(post_by))
        else:
            self._call(
                "document_post", services.document_post, document=doc, by=self._user(post_by)
            )

    @precondition(lambda self: self.have["documents"])
    @rule(
        which=pick,
        wide=anything,
        user=rep_work,
        lines=lines,
        customer=st.one_of(st.none(), customer_index),
        date=st.one_of(st.none(), new_dates),
        by_quantity=memo_quantities,
    )
    def edit_draft(self, which, wide, user, lines, customer, date, by_quantity):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind__in=[INVOICE, CREDIT_MEMO], status=DRAFT)
        doc = self._choose(docs, which)
        if doc is None:
            return
        if doc.source_invoice_id and which % 2:
            # A memo made from an invoice, edited the way its own form does it.
            quantities = self._memo_quantities(doc.source_invoice, by_quantity, exclude=doc)
            self._call(
                "credit_memo_update_from_invoice",
                services.credit_memo_update_from_invoice,
                memo=doc,
                quantities=quantities,
                reason="return",
                by=self._user(user),
                date=self._date(date, doc.date) if date else None,
            )
            return
        self._call(
            "document_update_draft",
            services.document_update_draft,
            document=doc,
            by=self._user(user),
            lines=self._lines(lines),
            customer=self._customer(customer) if customer is not None else None,
            date=self._date(date, doc.date) if date else None,
        )

    @precondition(lambda self: self.have["documents"])
    @rule(which=pick, wide=anything, user=poster_work, key=keys)
    def post(self, which, wide, user, key):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind__in=[INVOICE, CREDIT_MEMO, PAYMENT], status=DRAFT)
        doc = self._choose(docs, which)
        if doc is not None:
            self._call(
                "document_post", services.document_post, key, document=doc, by=self._user(user)
            )

    @precondition(lambda self: self.have["documents"])
    @rule(
        which=pick,
        wide=anything,
        user=poster_work,
        date=action_dates,
        unapply_all=st.booleans(),
        key=keys,
    )
    def void(self, which, wide, user, date, unapply_all, key):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind__in=[INVOICE, CREDIT_MEMO, PAYMENT], status=POSTED)
        doc = self._choose(docs, which)
        if doc is not None:
            self._call(
                "document_void",
                services.document_void,
                key,
                document=doc,
                by=self._user(user),
                date=self._date(date, doc.date),
                unapply_all=unapply_all,
            )

    @precondition(lambda self: self.have["documents"])
    @rule(which=pick, wide=anything, user=rep_work, key=keys)
    def cancel_draft(self, which, wide, user, key):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind__in=[INVOICE, CREDIT_MEMO, PAYMENT], status=DRAFT)
        doc = self._choose(docs, which)
        if doc is not None:
            self._call(
                "document_cancel_draft",
                services.document_cancel_draft,
                key,
                document=doc,
                by=self._user(user),
            )

    def _memo_quantities(self, invoice, choices, *, exclude=None):
        rows = selectors.creditable_lines(invoice, exclude_memo=exclude)
        quantities = {}
        for row, choice in zip(rows, choices, strict=False):
            if choice is None:
                continue
            quantities[row.line.pk] = row.remaining if choice == "rest" else choice
        return quantities

    @precondition(lambda self: self.have["documents"])
    @rule(
        which=pick,
        wide=anything,
        user=rep_work,
        by_quantity=memo_quantities,
        date=action_dates,
        key=keys,
    )
    def credit_memo_from_invoice(self, which, wide, user, by_quantity, date, key):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind=INVOICE, grand_total__gt=0).exclude(status=VOID)
        invoice = self._choose(docs, which)
        if invoice is None:
            return
        self._call(
            "credit_memo_create_from_invoice",
            services.credit_memo_create_from_invoice,
            key,
            invoice=invoice,
            quantities=self._memo_quantities(invoice, by_quantity),
            reason="return",
            by=self._user(user),
            date=self._date(date, invoice.date),
        )

    # --- Apply Credit and Unapply ----------------------------------------------------------

    @precondition(lambda self: self.have["posted"])
    @rule(
        source=pick,
        others=st.lists(st.tuples(pick, amounts), min_size=1, max_size=3),
        wide=anything,
        user=rep_work,
        date=action_dates,
        key=keys,
    )
    def apply_credit(self, source, others, wide, user, date, key):
        if wide:
            source = self._choose(Document.objects.all(), source)
            candidates = Document.objects.all()
        else:
            # A posted open item whose customer has an open item of the other sign.
            open_items = list(
                Document.objects.filter(status=POSTED)
                .exclude(balance_due=0)
                .exclude(kind=REFUND)
                .order_by("pk")
                .values_list("pk", "customer_id", "balance_due")
            )
            sides = {(customer, due > 0) for _, customer, due in open_items}
            paired = [pk for pk, customer, due in open_items if (customer, due < 0) in sides]
            source = self._choose(Document.objects.filter(pk__in=paired), source)
            if source is None:
                return
            side = Q(balance_due__gt=0) if source.balance_due < 0 else Q(balance_due__lt=0)
            candidates = Document.objects.filter(
                side, status=POSTED, customer=source.customer_id
            ).exclude(kind=REFUND)
        if source is None:
            return
        allocations, latest = [], source.date
        for index, spec in others:
            other = self._choose(candidates, index)
            if other is None:
                return
            room = min(abs(source.usable), abs(other.usable))
            allocations.append(Allocation(document=other, amount=self._amount(spec, room)))
            latest = max(latest, other.date)
        self._call(
            "credit_apply",
            services.credit_apply,
            key,
            source=source,
            allocations=allocations,
            by=self._user(user),
            date=self._date(date, latest),
        )

    @precondition(lambda self: self.have["applications"])
    @rule(which=pick, wide=anything, user=rep_work, date=action_dates, key=keys)
    def unapply(self, which, wide, user, date, key):
        apps = Application.objects.all()
        if not wide:
            apps = apps.filter(removed_at__isnull=True)
        app = self._choose(apps, which)
        if app is not None:
            self._call(
                "credit_unapply",
                services.credit_unapply,
                key,
                application=app,
                by=self._user(user),
                date=self._date(date, app.date),
            )

    # --- payments ----------------------------------------------------------------------------

    @rule(
        customer=customer_index,
        user=rep_work,
        date=new_dates,
        method=PAYMENT_METHODS,
        amount=amounts,
        plan=st.lists(st.tuples(pick, amounts), max_size=2),
        earmark=st.one_of(st.none(), pick),
        wide=anything,
        key=keys,
        post_by=st.one_of(st.none(), poster_work),
    )
    def record_payment(
        self, customer, user, date, method, amount, plan, earmark, wide, key, post_by
    ):
        customer = self._customer(customer)
        invoices = Document.objects.all()
        drafts = Document.objects.all()
        if not wide:
            invoices = invoices.filter(customer=customer, status=POSTED, balance_due__gt=0)
            drafts = drafts.filter(customer=customer, kind=INVOICE, status=DRAFT)
        allocations = []
        for index, spec in plan:
            invoice = self._choose(invoices, index)
            if invoice is not None:
                allocations.append(
                    Allocation(document=invoice, amount=self._amount(spec, invoice.usable))
                )
        earmarked_for = self._choose(drafts, earmark) if earmark is not None else None
        reference = sum((a.amount for a in allocations), D(0)) or (
            earmarked_for.grand_total if earmarked_for is not None else None
        )
        payment = self._call(
            "payment_record",
            services.payment_record,
            key,
            customer=customer,
            date=self._date(date),
            method=method,
            amount=self._amount(amount, reference),
            by=self._user(user),
            allocations=allocations,
            earmarked_for=earmarked_for,
        )
        self._post_now(payment, post_by)

    @precondition(lambda self: self.have["documents"])
    @rule(
        which=pick,
        wide=anything,
        user=rep_work,
        amount=amounts,
        date=action_dates,
        method=PAYMENT_METHODS,
        key=keys,
    )
    def payment_on_document(self, which, wide, user, amount, date, method, key):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind=INVOICE).exclude(status=VOID)
        doc = self._choose(docs, which)
        if doc is None:
            return
        self._call(
            "payment_on_document",
            services.payment_on_document,
            key,
            document=doc,
            amount=self._amount(amount, doc.display_balance),
            by=self._user(user),
            date=self._date(date, doc.date) or self.today,
            method=method,
        )

    # --- refunds of credits ------------------------------------------------------------------

    @precondition(lambda self: self.have["documents"])
    @rule(
        which=pick,
        wide=anything,
        user=rep_work,
        amount=amounts,
        method=REFUND_METHODS,
        date=action_dates,
        key=keys,
        release_by=st.one_of(st.none(), poster_work),
    )
    def refund_prepare(self, which, wide, user, amount, method, date, key, release_by):
        """Prepare a refund (and maybe have a Poster release it at once)."""
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(
                Q(status=POSTED, balance_due__lt=0)
                | Q(status=DRAFT, kind=INVOICE, earmarked_payments__isnull=False)
            ).distinct()
        doc = self._choose(docs, which)
        if doc is None:
            return
        credit, available = services.refund_source(doc)
        refund = self._call(
            "refund_prepare",
            services.refund_prepare,
            key,
            document=doc,
            amount=self._amount(amount, available),
            method=method,
            date=self._date(date, credit.date if credit else doc.date) or self.today,
            by=self._user(user),
        )
        if refund is not None and release_by is not None:
            self._call(
                "refund_release", services.refund_release, refund=refund, by=self._user(release_by)
            )

    def _refund(self, which, wide, status):
        docs = Document.objects.all()
        if not wide:
            docs = docs.filter(kind=REFUND, status=status)
        return self._choose(docs, which)

    @precondition(lambda self: self.have["refunds"])
    @rule(which=pick, wide=anything, user=poster_work, date=action_dates, key=keys)
    def refund_release(self, which, wide, user, date, key):
        refund = self._refund(which, wide, DRAFT)
        if refund is not None:
            self._call(
                "refund_release",
                services.refund_release,
                key,
                refund=refund,
                by=self._user(user),
                date=self._date(date, refund.date),
            )

    @precondition(lambda self: self.have["refunds"])
    @rule(which=pick, wide=anything, user=rep_work, key=keys)
    def refund_cancel(self, which, wide, user, key):
        refund = self._refund(which, wide, DRAFT)
        if refund is not None:
            self._call(
                "refund_cancel", services.refund_cancel, key, refund=refund, by=self._user(user)
            )

    @precondition(lambda self: self.have["refunds"])
    @rule(which=pick, wide=anything, user=poster_work, date=action_dates, key=keys)
    def refund_reverse(self, which, wide, user, date, key):
        refund = self._refund(which, wide, POSTED)
        if refund is not None:
            self._call(
                "refund_reverse",
                services.refund_reverse,
                key,
                refund=refund,
                by=self._user(user),
                date=self._date(date, refund.date),
            )

    # --- customer deposits -----------------------------------------------------------------

    @rule(
        customer=customer_index,
        user=rep_work,
        date=new_dates,
        method=PAYMENT_METHODS,
        amount=amounts,
        key=keys,
        post_by=st.one_of(st.none(), poster_work),
    )
    def deposit_record(self, customer, user, date, method, amount, key, post_by):
        deposit = self._call(
            "deposit_record",
            services.deposit_record,
            key,
            customer=self._customer(customer),
            date=self._date(date),
            method=method,
            amount=self._amount(amount, None),
            by=self._user(user),
        )
        self._post_now(deposit, post_by)

    def _deposit(self, which, wide, **filters):
        deposits = Deposit.objects.all()
        if not wide:
            deposits = deposits.filter(**filters)
        return self._choose(deposits, which)

    @precondition(lambda self: self.have["deposits"])
    @rule(which=pick, wide=anything, user=poster_work, key=keys)
    def deposit_post(self, which, wide, user, key):
        deposit = self._deposit(which, wide, status=DRAFT)
        if deposit is not None:
            self._call(
                "deposit_post", services.deposit_post, key, deposit=deposit, by=self._user(user)
            )

    @precondition(lambda self: self.have["deposits"])
    @rule(which=pick, wide=anything, user=rep_work, key=keys)
    def deposit_cancel(self, which, wide, user, key):
        deposit = self._deposit(which, wide, status=DRAFT)
        if deposit is not None:
            self._call(
                "deposit_cancel",
                services.deposit_cancel,
                key,
                deposit=deposit,
                by=self._user(user),
            )

    @precondition(lambda self: self.have["deposits"])
    @rule(which=pick, wide=anything, user=poster_work, date=action_dates, key=keys)
    def deposit_void(self, which, wide, user, date, key):
        deposit = self._deposit(which, wide, status=POSTED)
        if deposit is not None:
            self._call(
                "deposit_void",
                services.deposit_void,
                key,
                deposit=deposit,
                by=self._user(user),
                date=self._date(date, deposit.date),
            )

    @precondition(lambda self: self.have["posted_deposits"])
    @rule(
        which=pick,
        invoice=pick,
        wide=anything,
        user=rep_work,
        amount=amounts,
        date=action_dates,
        key=keys,
    )
    def deposit_apply(self, which, invoice, wide, user, amount, date, key):
        deposits = Deposit.objects.all()
        if not wide:
            owing = Document.objects.filter(status=POSTED, balance_due__gt=0)
            deposits = deposits.filter(
                status=POSTED, remaining__gt=F("reserved"), customer__in=owing.values("customer")
            )
        deposit = self._choose(deposits, which)
        if deposit is None:
            return
        invoices = Document.objects.all()
        if not wide:
            invoices = invoices.filter(
                customer=deposit.customer_id, status=POSTED, balance_due__gt=0
            )
        invoice = self._choose(invoices, invoice)
        if invoice is None:
            return
        self._call(
            "deposit_apply",
            services.deposit_apply,
            key,
            deposit=deposit,
            invoice=invoice,
            amount=self._amount(amount, min(deposit.usable, max(invoice.balance_due, D(0)))),
            by=self._user(user),
            date=self._date(date, max(deposit.date, invoice.date)),
        )

    @precondition(lambda self: self.have["deposit_applications"])
    @rule(which=pick, wide=anything, user=rep_work, date=action_dates, key=keys)
    def deposit_unapply(self, which, wide, user, date, key):
        apps = DepositApplication.objects.all()
        if not wide:
            apps = apps.filter(removed_at__isnull=True)
        app = self._choose(apps, which)
        if app is not None:
            self._call(
                "deposit_unapply",
                services.deposit_unapply,
                key,
                application=app,
                by=self._user(user),
                date=self._date(date, app.date),
            )

    @precondition(lambda self: self.have["posted_deposits"])
    @rule(
        which=pick,
        wide=anything,
        user=rep_work,
        amount=amounts,
        method=DEPOSIT_REFUND_METHODS,
        date=action_dates,
        key=keys,
        release_by=st.one_of(st.none(), poster_work),
    )
    def deposit_refund_prepare(self, which, wide, user, amount, method, date, key, release_by):
        deposit = self._deposit(which, wide, status=POSTED, remaining__gt=F("reserved"))
        if deposit is None:
            return
        refund = self._call(
            "deposit_refund_prepare",
            services.deposit_refund_prepare,
            key,
            deposit=deposit,
            amount=self._amount(amount, deposit.usable),
            method=method,
            date=self._date(date, deposit.date) or self.today,
            by=self._user(user),
        )
        if refund is not None and release_by is not None:
            self._call(
                "deposit_refund_release",
                services.deposit_refund_release,
                refund=refund,
                by=self._user(release_by),
            )

    def _deposit_refund(self, which, wide, status):
        refunds = DepositRefund.objects.all()
        if not wide:
            refunds = refunds.filter(status=status)
        return self._choose(refunds, which)

    @precondition(lambda self: self.have["deposit_refunds"])
    @rule(which=pick, wide=anything, user=poster_work, date=action_dates, key=keys)
    def deposit_refund_release(self, which, wide, user, date, key):
        refund = self._deposit_refund(which, wide, DRAFT)
        if refund is not None:
            self._call(
                "deposit_refund_release",
                services.deposit_refund_release,
                key,
                refund=refund,
                by=self._user(user),
                date=self._date(date, refund.date),
            )

    @precondition(lambda self: self.have["deposit_refunds"])
    @rule(which=pick, wide=anything, user=rep_work, key=keys)
    def deposit_refund_cancel(self, which, wide, user, key):
        refund = self._deposit_refund(which, wide, DRAFT)
        if refund is not None:
            self._call(
                "deposit_refund_cancel",
                services.deposit_refund_cancel,
                key,
                refund=refund,
                by=self._user(user),
            )

    @precondition(lambda self: self.have["deposit_refunds"])
    @rule(which=pick, wide=anything, user=poster_work, date=action_dates, key=keys)
    def deposit_refund_reverse(self, which, wide, user, date, key):
        refund = self._deposit_refund(which, wide, POSTED)
        if refund is not None:
            self._call(
                "deposit_refund_reverse",
                services.deposit_refund_reverse,
                key,
                refund=refund,
                by=self._user(user),
                date=self._date(date, refund.date),
            )

    # --- the books-closed date ---------------------------------------------------------------

    @precondition(
        lambda self: (
            (self.closed_through or datetime.date.min) < self.today - datetime.timedelta(days=5)
        )
    )
    @rule(days=st.sampled_from([30, 7, 15, 45]), user=accountant_work)
    def close_books(self, days, user):
        # Forward, up to a few days ago: documents dated around today stay possible.
        current = self._closed() or self.today - datetime.timedelta(days=90)
        through = min(
            current + datetime.timedelta(days=days), self.today - datetime.timedelta(days=5)
        )
        self._call("books_close", books_close, through=through, by=self._user(user))

    # --- after every step ----------------------------------------------------------------------

    @invariant()
    def books_hold(self):
        """After a step that changed something (a refused step was just shown to change
        nothing, so what held still holds)."""
        RUN["steps"] += 1
        if not self.dirty:
            return
        self.dirty = False
        self._take_census()
        problems = ledger_problems()
        assert not problems, "check_ledger fails:\n" + "\n".join(problems)
        self.posted_things_never_change()
        self.money_leaves_only_through_a_poster()
        self.business_dates()
        self.memos_follow_their_invoice()
        self.aging_ties_out()

    def aging_ties_out(self):
        """The A/R aging as of today and as of past dates equals the control account as of
        that date, and its open amounts equal the recomputation from every application."""
        for back in (0, 7, 30):
            as_of = self.today - datetime.timedelta(days=back)
            total = aging_totals(as_of).total
            control = account_balance(SystemRole.RECEIVABLE, as_of=as_of)
            assert total == control, f"aging {total} != A/R control {control} as of {as_of}"
            recomputed = {k: v for k, v in computed_open_amounts(as_of=as_of).items() if v}
            assert open_amounts_as_of(as_of) == recomputed, f"aging open items as of {as_of}"

    def posted_things_never_change(self):
        """Invariant 6 seen from outside: once posted, a document's header, totals and lines,
        a deposit's amount and a journal entry's lines stay as they were."""
        docs = Document.objects.exclude(posting_entry=None).prefetch_related("lines")
        for doc in docs:
            now = (
                doc.kind,
                doc.number,
                doc.customer_id,
                doc.date,
                doc.subtotal,
                doc.tax_total,
                doc.grand_total,
                doc.posting_entry_id,
                tuple(
                    (line.pk, line.quantity, line.unit_price, line.extended_amount, line.tax_amount)
                    for line in doc.lines.all()
                ),
            )
            was = self.posted_docs.setdefault(doc.pk, now)
            assert now == was, f"posted {doc.number} changed: {was} -> {now}"
        for deposit in Deposit.objects.exclude(posting_entry=None).exclude(status=DRAFT):
            now = (deposit.customer_id, deposit.date, deposit.amount, deposit.posting_entry_id)
            was = self.posted_deposits.setdefault(deposit.pk, now)
            assert now == was, f"posted {deposit.number} changed: {was} -> {now}"
        lines = JournalLine.objects.values_list(
            "entry_id", "entry__date", "account_id", "customer_id", "debit", "credit"
        )
        entries: dict[int, list] = {}
        for entry_id, *rest in lines.order_by("pk"):
            entries.setdefault(entry_id, []).append(tuple(rest))
        for entry_id, rows in entries.items():
            was = self.entries.setdefault(entry_id, tuple(rows))
            assert tuple(rows) == was, f"JE-{entry_id:06d} changed: {was} -> {tuple(rows)}"

    def money_leaves_only_through_a_poster(self):
        """A released refund (of a credit or of a deposit) was released by a Poster other
        than the person who prepared it (four eyes)."""
        posters = {self.users[name].pk for name in POSTERS}
        released = Document.objects.filter(kind=REFUND).exclude(posting_entry=None)
        for number, by, preparer in released.values_list("number", "posted_by", "created_by"):
            assert by in posters, f"{number} was released by a user who isn't a Poster"
            if django_settings.REFUND_FOUR_EYES:
                assert by != preparer, f"{number} was released by the person who prepared it"
        for pk, by, preparer in DepositRefund.objects.exclude(entry=None).values_list(
            "pk", "posted_by", "created_by"
        ):
            assert by in posters, f"deposit refund {pk} was released by a user who isn't a Poster"
            if django_settings.REFUND_FOUR_EYES:
                assert by != preparer, f"deposit refund {pk} was released by its preparer"
        for number, method in Document.objects.filter(kind=PAYMENT).values_list("number", "method"):
            assert method in ("check", "eft", "card", "cash"), f"{number} paid by {method!r}"

    def business_dates(self):
        """Everything the services dated lies in the business-date range: no later than
        today + the horizon, not before the earliest date, and nothing dated on or before
        the books-closed date once it was closed."""
        earliest = django_settings.BUSINESS_DATE_EARLIEST
        latest = self.today + datetime.timedelta(days=django_settings.BUSINESS_DATE_HORIZON_DAYS)
        dated = [
            ("document", Document.objects.exclude(status=VOID, posting_entry=None), "date"),
            ("deposit", Deposit.objects.exclude(status=VOID, posting_entry=None), "date"),
            ("deposit refund", DepositRefund.objects.all(), "date"),
            ("journal entry", JournalEntry.objects.all(), "date"),
            ("application", Application.objects.all(), "date"),
            ("application removal", Application.objects.exclude(removed_on=None), "removed_on"),
            ("deposit application", DepositApplication.objects.all(), "date"),
            (
                "deposit application removal",
                DepositApplication.objects.exclude(removed_on=None),
                "removed_on",
            ),
            ("void", Document.objects.exclude(void_entry=None), "void_date"),
        ]
        for what, rows, field in dated:
            for pk, day in rows.values_list("pk", field):
                assert earliest <= day <= latest, f"{what} {pk} is dated {day}"
        row = LedgerSettings.load()
        if row.books_closed_through and row.closed_at:
            closed, at = row.books_closed_through, row.closed_at
            late = [
                *Application.objects.filter(created_at__gt=at, date__lte=closed).values_list(
                    "pk", "date"
                ),
                *Application.objects.filter(removed_at__gt=at, removed_on__lte=closed).values_list(
                    "pk", "removed_on"
                ),
                *DepositApplication.objects.filter(created_at__gt=at, date__lte=closed).values_list(
                    "pk", "date"
                ),
                *DepositApplication.objects.filter(
                    removed_at__gt=at, removed_on__lte=closed
                ).values_list("pk", "removed_on"),
            ]
            assert not late, f"applied or unapplied in the closed period after the close: {late}"

    def memos_follow_their_invoice(self):
        """A credit memo made from an invoice belongs to the invoice's customer."""
        for number, customer, invoice_customer in (
            Document.objects.filter(kind=CREDIT_MEMO, source_invoice__isnull=False)
            .exclude(status=VOID)
            .values_list("number", "customer_id", "source_invoice__customer_id")
        ):
            assert customer == invoice_customer, f"{number} credits another customer's invoice"


def _people_and_customers():
    for name, role in PEOPLE.items():
        make_user(role, f"fuzz-{name}")
    for n in range(3):
        CustomerFactory(code=f"FZ{n}", name=f"Fuzz customer {n}")


def _summary(started: float) -> str:
    from hypothesis import core

    seed = getattr(core, "global_force_seed", None)
    lines = [
        f"random operations: {RUN['examples']} examples, {RUN['steps']} steps "
        f"(budget {EXAMPLES} x {STEPS}) in {time.monotonic() - started:.0f}s"
        + (f", seed {seed}" if seed is not None else ""),
        *(f"  {count:7d}  {outcome}" for outcome, count in sorted(OUTCOMES.items())),
    ]
    return "\n".join(lines)


@pytest.mark.django_db
def test_random_operations(fast_password_hashing):  # noqa: F811
    _people_and_customers()
    OUTCOMES.clear()
    RUN.update(examples=0, steps=0)
    started = time.monotonic()
    try:
        _run()
    finally:
        print("\n" + _summary(started))


def _run():
    run_state_machine_as_test(
        CreditDesk,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=DirectoryBasedExampleDatabase(DATABASE) if DATABASE else None,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
        ),
    )
