"""Every state-changing service under real concurrency (PostgreSQL, threads, commits).

For each service two races:

- **identical submissions**: N threads send the same request with the same one-time key at
  the same moment (a double click, a retry, a proxy re-sending) → exactly one effect,
  every thread gets the same result back, nobody gets an error;
- **conflicting submissions**: N threads with different keys compete for the same money
  (the same credit, deposit, invoice balance or refund) → some succeed, the rest are
  refused with a ValidationError (never an IntegrityError, AttributeError, deadlock or
  any other 500-class error), nothing is over-applied or over-refunded, and
  `check_ledger` passes afterwards.

A few races also go through HTTP (the test Client in threads): the same form posted twice
at once answers 302 to the same place both times and does one thing, and so does posting
it once more afterwards (a re-sent page).

One test per family of services (a transactional test costs a flush and a reseed, so the
races of a family share one); each runs its identical and its conflicting races.

No test can hang CI: every barrier and join waits at most `WAIT` seconds, and each
thread's connection gives up waiting for a row lock after `LOCK_WAIT`, so a stuck thread
can't block the flush that ends the test either.
"""

import datetime
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from customers import services as customer_services
from customers.models import Customer
from invoicing import services
from invoicing.allocator import Allocation
from invoicing.models import (
    Application,
    ApplicationOrigin,
    Deposit,
    DepositApplication,
    DepositRefund,
    Document,
    DocumentKind,
    DocumentStatus,
)
from ledger import services as ledger_services
from ledger.models import IdempotencyKey, JournalEntry
from tests.factories import (
    CustomerFactory,
    line,
    make_invoice,
    make_user,
    posted_deposit,
    posted_memo,
)
from tests.helpers import fresh, ledger_ok
from tests.invoicing.books import fast_password_hashing  # noqa: F401

D = Decimal
DAY = datetime.date(2026, 11, 10)
N = 8  # threads per race
WAIT = 30  # seconds any barrier or join waits at most
LOCK_WAIT = "15s"  # what one statement may wait for a row lock before it errors out

pytestmark = [
    pytest.mark.postgres,
    # conftest's autouse fixture puts the reference data back before each transactional test.
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hashing"),
]


# --- running calls at the same moment ---------------------------------------------------------


@dataclass
class Race:
    """What N simultaneous calls did: results of those that succeeded, ValidationErrors of
    those refused, and anything else (the bugs) with its traceback."""

    ok: list = field(default_factory=list)
    refused: list[ValidationError] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def messages(self) -> list[str]:
        return [" ".join(exc.messages) for exc in self.refused]


def at_once(calls: list[Callable[[], object]]) -> Race:
    """Run each call in its own thread, released together by a barrier; wait for all.
    Each thread opens its connection before the barrier (so the race is the calls, not the
    connects) and closes it when done."""
    barrier = threading.Barrier(len(calls), timeout=WAIT)
    outcomes: list[tuple[str, object] | None] = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_WAIT}'")
            barrier.wait()
            outcomes[index] = ("ok", call())
        except ValidationError as exc:
            outcomes[index] = ("refused", exc)
        except BaseException as exc:  # reported by the test, with the traceback
            outcomes[index] = ("error", "".join(traceback.format_exception(exc)))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WAIT
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    hung = sum(thread.is_alive() for thread in threads)
    assert not hung, f"{hung} of {len(threads)} threads still running after {WAIT}s"
    race = Race()
    for kind, value in outcomes:
        {"ok": race.ok, "refused": race.refused, "error": race.errors}[kind].append(value)
    return race


def identity(result):
    """What makes two results "the same": the rows they are (a list of rows for Apply)."""
    if isinstance(result, list | tuple):
        return tuple(identity(r) for r in result)
    return (type(result).__name__, result.pk)


def same_request(call: Callable[[], object], n: int = N):
    """n identical submissions at once: all succeed with the same result, which is returned."""
    race = at_once([call] * n)
    assert not race.errors, "\n".join(race.errors)
    assert not race.refused, race.messages()
    assert len(race.ok) == n
    assert len({identity(r) for r in race.ok}) == 1, [identity(r) for r in race.ok]
    return race.ok[0]


def competing(calls: list[Callable[[], object]]) -> Race:
    """Conflicting submissions at once: each succeeds or is refused with a message."""
    race = at_once(calls)
    assert not race.errors, "\n".join(race.errors)
    return race


def key() -> str:
    return uuid.uuid4().hex


# --- what the races start from ------------------------------------------------------------------


@pytest.fixture
def people():
    """A rep prepares, two Posters post and release (four eyes: not the preparer)."""
    return (
        make_user("A/R rep", "rep_c"),
        make_user("Poster", "poster_c"),
        make_user("Poster", "poster_c2"),
    )


def invoice(customer, rep, poster, amount="100.00", *, posted=True):
    return make_invoice(
        customer=customer,
        by=rep,
        post_by=poster if posted else None,
        date=DAY,
        lines=[line("SVC", "1", amount, "OUT")],
    )


def entries_for(obj) -> int:
    return JournalEntry.objects.filter(source_ref=obj.number).count()


# --- documents: create, credit memo from an invoice, post, void, cancel ----------------------


def identical_document_submissions_have_one_effect(people):
    rep, poster, _ = people
    customer = CustomerFactory()

    created = same_request(
        partial(
            services.document_create,
            customer=customer,
            date=DAY,
            lines=[line("SVC", "2", "150.00", "OUT")],
            by=rep,
            key=key(),
        )
    )
    assert Document.objects.filter(customer=customer).count() == 1
    assert IdempotencyKey.objects.filter(scope="document_create").count() == 1

    posted = same_request(partial(services.document_post, document=created, by=poster, key=key()))
    assert posted.pk == created.pk
    assert fresh(created).status == DocumentStatus.POSTED
    assert entries_for(created) == 1

    invoice_line = created.lines.get()
    credit = same_request(
        partial(
            services.credit_memo_create_from_invoice,
            invoice=created,
            quantities={invoice_line.pk: D("1")},
            reason="return",
            by=rep,
            date=DAY,
            key=key(),
        )
    )
    assert list(Document.objects.filter(source_invoice=created)) == [credit]
    assert credit.grand_total == D("-150.00")

    same_request(partial(services.document_post, document=credit, by=poster, key=key()))
    assert fresh(credit).balance_due == D("-150.00")
    assert entries_for(credit) == 1

    voided = same_request(
        partial(services.document_void, document=credit, by=poster, date=DAY, key=key())
    )
    assert voided.pk == credit.pk
    credit = fresh(credit)
    assert credit.status == DocumentStatus.VOID
    assert JournalEntry.objects.filter(pk=credit.void_entry_id).count() == 1
    assert entries_for(credit) == 2  # the posting and one reversal

    draft = invoice(customer, rep, poster, posted=False)
    same_request(partial(services.document_cancel_draft, document=draft, by=rep, key=key()))
    assert fresh(draft).status == DocumentStatus.VOID
    assert entries_for(draft) == 0
    ledger_ok()


def conflicting_document_actions_never_over_credit_or_double_post(people):
    rep, poster, poster2 = people
    customer = CustomerFactory()

    # 8 credit memos of 1 each from a line of quantity 5: five fit, three are refused.
    source = make_invoice(
        customer=customer,
        by=rep,
        post_by=poster,
        date=DAY,
        lines=[line("SVC", "5", "20.01", "OUT")],
    )
    source_line = source.lines.get()
    race = competing(
        [
            partial(
                services.credit_memo_create_from_invoice,
                invoice=fresh(source),
                quantities={source_line.pk: D("1")},
                reason="return",
                by=rep,
                date=DAY,
                key=key(),
            )
            for _ in range(N)
        ]
    )
    assert len(race.ok) == 5, race.messages()
    assert all("can still be credited" in m for m in race.messages()), race.messages()
    memos = Document.objects.filter(source_invoice=source).exclude(status=DocumentStatus.VOID)
    assert sum(m.grand_total for m in memos) == -source.grand_total

    # Post vs. cancel of one draft, and several posters: exactly one of them happens.
    draft = invoice(customer, rep, poster, "70.00", posted=False)
    race = competing(
        [
            partial(services.document_post, document=fresh(draft), by=poster, key=key())
            for _ in range(3)
        ]
        + [
            partial(services.document_cancel_draft, document=fresh(draft), by=rep, key=key())
            for _ in range(3)
        ]
        + [
            partial(services.document_post, document=fresh(draft), by=poster2, key=key())
            for _ in range(2)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    draft = fresh(draft)
    assert draft.status in (DocumentStatus.POSTED, DocumentStatus.VOID)
    assert entries_for(draft) == (1 if draft.status == DocumentStatus.POSTED else 0)

    # Void a credit memo while seven reps apply it: either the void wins and nothing is
    # applied, or it is refused because something already was.
    credit = posted_memo(customer, "100.00", by=rep, post_by=poster)
    targets = [invoice(customer, rep, poster, "30.00") for _ in range(N - 1)]
    race = competing(
        [partial(services.document_void, document=fresh(credit), by=poster, date=DAY, key=key())]
        + [
            partial(
                services.credit_apply,
                source=fresh(credit),
                allocations=[Allocation(document=fresh(target), amount=D("30.00"))],
                by=rep,
                date=DAY,
                key=key(),
            )
            for target in targets
        ]
    )
    credit = fresh(credit)
    applied = Application.objects.filter(source=credit, removed_at__isnull=True)
    if credit.status == DocumentStatus.VOID:  # voided first: every apply was refused
        assert len(race.ok) == 1, race.messages()
        assert not applied.exists()
        assert credit.balance_due == 0
    else:  # applied first: the void was refused; 3 × 30 fit in 100, a fourth would not
        assert applied.count() == len(race.ok) == 3, race.messages()
        assert credit.balance_due == D("-10.00")
        assert any("can't be voided" in m for m in race.messages()), race.messages()
    ledger_ok()


def unapply_all_and_void_while_unapplying(people):
    """ "Unapply all and void" on an invoice while reps unapply the same credit and deposit
    by hand: each application is removed once (by whoever came first), the void happens
    (what was already unapplied needn't be again), and the credit and deposit are whole."""
    rep, poster, _ = people
    customer = CustomerFactory()
    target = invoice(customer, rep, poster, "100.00")
    credit = posted_memo(customer, "30.00", by=rep, post_by=poster)
    held = posted_deposit(customer, "40.00", by=rep, post_by=poster)
    [app] = services.credit_apply(
        source=credit, allocations=[Allocation(target, D("30.00"))], by=rep, date=DAY
    )
    deposit_app = services.deposit_apply(
        deposit=held, invoice=target, amount=D("40.00"), date=DAY, by=rep
    )
    race = competing(
        [
            partial(
                services.document_void,
                document=fresh(target),
                by=poster,
                date=DAY,
                unapply_all=True,
                key=key(),
            )
        ]
        + [
            partial(services.credit_unapply, application=fresh(app), by=rep, key=key())
            for _ in range(3)
        ]
        + [
            partial(services.deposit_unapply, application=fresh(deposit_app), by=rep, key=key())
            for _ in range(3)
        ]
    )
    assert fresh(target).status == DocumentStatus.VOID, race.messages()
    assert set(race.messages()) == {"That application was already removed."}
    assert fresh(credit).balance_due == D("-30.00")
    assert fresh(held).remaining == D("40.00")
    ledger_ok()


def closing_the_books_while_posting(people):
    """An Accountant closes the books through DAY while seven posters post drafts dated
    DAY: each posting either commits before the close or is refused after it; none is
    committed dated in the closed period after the close (invariant 7)."""
    rep, poster, _ = people
    accountant = make_user("Accountant", "accountant_c")
    customer = CustomerFactory()
    drafts = [invoice(customer, rep, poster, posted=False) for _ in range(N - 1)]
    race = competing(
        [partial(ledger_services.books_close, through=DAY, by=accountant)]
        + [partial(services.document_post, document=fresh(d), by=poster, key=key()) for d in drafts]
    )
    assert len(race.ok) >= 1  # the close always happens
    assert all("books are closed" in m for m in race.messages()), race.messages()
    posted = Document.objects.filter(pk__in=[d.pk for d in drafts], status=DocumentStatus.POSTED)
    assert posted.count() == len(race.ok) - 1
    ledger_ok()


def test_documents_at_once(people):
    """Create, credit memo from an invoice, post, void ("Unapply all and void" too), cancel
    a draft; closing the books while posting."""
    identical_document_submissions_have_one_effect(people)
    conflicting_document_actions_never_over_credit_or_double_post(people)
    unapply_all_and_void_while_unapplying(people)
    closing_the_books_while_posting(people)  # last: it closes DAY


# --- Apply Credit and Unapply ------------------------------------------------------------------


def identical_apply_and_unapply_have_one_effect(people):
    rep, poster, _ = people
    customer = CustomerFactory()
    credit = posted_memo(customer, "100.00", by=rep, post_by=poster)
    target = invoice(customer, rep, poster, "100.00")

    applications = same_request(
        partial(
            services.credit_apply,
            source=credit,
            allocations=[Allocation(document=target, amount=D("30.00"))],
            by=rep,
            date=DAY,
            key=key(),
        )
    )
    assert len(applications) == 1
    assert Application.objects.filter(source=credit).count() == 1
    assert fresh(target).balance_due == D("70.00")
    assert fresh(credit).balance_due == D("-70.00")

    same_request(
        partial(services.credit_unapply, application=applications[0], by=rep, date=DAY, key=key())
    )
    assert fresh(target).balance_due == D("100.00")
    assert fresh(credit).balance_due == D("-100.00")
    assert Application.objects.get(source=credit).removed_at is not None
    ledger_ok()


def one_credit_applied_to_eight_invoices_at_once_is_never_over_applied(people):
    rep, poster, _ = people
    customer = CustomerFactory()
    credit = posted_memo(customer, "100.00", by=rep, post_by=poster)
    targets = [invoice(customer, rep, poster, "40.00") for _ in range(N)]

    race = competing(
        [
            partial(
                services.credit_apply,
                source=fresh(credit),
                allocations=[Allocation(document=fresh(target), amount=D("40.00"))],
                by=rep,
                date=DAY,
                key=key(),
            )
            for target in targets
        ]
    )
    assert len(race.ok) == 2, race.messages()  # 2 × 40 fit in 100, a third would not
    assert len(race.refused) == N - 2
    assert fresh(credit).balance_due == D("-20.00")
    assert sum(fresh(t).balance_due for t in targets) == N * D("40.00") - D("80.00")

    # The same from the other side: eight credits applied to one invoice at once.
    one = invoice(customer, rep, poster, "100.00")
    credits = [posted_memo(customer, "40.00", by=rep, post_by=poster) for _ in range(N)]
    race = competing(
        [
            partial(
                services.credit_apply,
                source=fresh(one),
                allocations=[Allocation(document=fresh(c), amount=D("40.00"))],
                by=rep,
                date=DAY,
                key=key(),
            )
            for c in credits
        ]
    )
    assert len(race.ok) == 2, race.messages()
    assert fresh(one).balance_due == D("20.00")

    # Eight unapplies of one application (different keys): one removes it.
    application = Application.objects.filter(target=one, removed_at__isnull=True).first()
    race = competing(
        [
            partial(services.credit_unapply, application=fresh(application), by=rep, key=key())
            for _ in range(N)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    assert fresh(one).balance_due == D("60.00")
    ledger_ok()


def test_apply_and_unapply_at_once(people):
    """Apply Credit (from the credit and from the invoice) and Unapply."""
    identical_apply_and_unapply_have_one_effect(people)
    one_credit_applied_to_eight_invoices_at_once_is_never_over_applied(people)


# --- payments ----------------------------------------------------------------------------------


def identical_payment_submissions_record_one_payment(people):
    rep, poster, _ = people
    customer = CustomerFactory()
    posted = invoice(customer, rep, poster, "100.00")

    payment = same_request(
        partial(
            services.payment_record,
            customer=customer,
            date=DAY,
            method="check",
            amount=D("80.00"),
            allocations=[Allocation(document=posted, amount=D("80.00"))],
            by=rep,
            key=key(),
        )
    )
    assert Document.objects.filter(kind=DocumentKind.PAYMENT, customer=customer).count() == 1
    assert payment.planned_applications.count() == 1

    on_posted = same_request(
        partial(
            services.payment_on_document,
            document=posted,
            amount=D("20.00"),
            date=DAY,
            method="cash",
            by=rep,
            key=key(),
        )
    )
    draft = invoice(customer, rep, poster, "50.00", posted=False)
    on_draft = same_request(
        partial(
            services.payment_on_document,
            document=draft,
            amount=D("50.00"),
            date=DAY,
            method="card",
            by=rep,
            key=key(),
        )
    )
    assert Document.objects.filter(kind=DocumentKind.PAYMENT, customer=customer).count() == 3
    assert fresh(on_draft).earmarked_for_id == draft.pk
    assert fresh(on_posted).planned_applications.get().amount == D("20.00")
    ledger_ok()


def payments_posted_at_once_against_one_invoice_never_overpay_it(people):
    rep, poster, poster2 = people
    customer = CustomerFactory()
    target = invoice(customer, rep, poster, "100.00")

    # Eight reps take a payment of 60 on the same invoice at once: each is recorded (it
    # plans 60 of the 100), none is applied yet.
    race = competing(
        [
            partial(
                services.payment_on_document,
                document=fresh(target),
                amount=D("60.00"),
                date=DAY,
                method="check",
                by=rep,
                key=key(),
            )
            for _ in range(N)
        ]
    )
    assert len(race.ok) == N, race.messages()
    payments = race.ok

    # Posting them all at once applies what still fits; the rest stays as credit.
    race = competing(
        [
            partial(
                services.document_post, document=fresh(p), by=(poster, poster2)[i % 2], key=key()
            )
            for i, p in enumerate(payments)
        ]
    )
    assert len(race.ok) == N, race.messages()
    assert fresh(target).balance_due == 0
    applied = Application.objects.filter(target=target, removed_at__isnull=True)
    assert sum(a.amount for a in applied) == D("100.00")
    assert sum(fresh(p).balance_due for p in payments) == -(N * D("60.00") - D("100.00"))

    # Posting a payment planned for an invoice while reps apply credits to that invoice:
    # the invoice is never paid twice; the payment posts whatever is left for it.
    other = invoice(customer, rep, poster, "100.00")
    planned = services.payment_record(
        customer=customer,
        date=DAY,
        method="check",
        amount=D("100.00"),
        allocations=[Allocation(document=other, amount=D("100.00"))],
        by=rep,
    )
    credits = [posted_memo(customer, "50.00", by=rep, post_by=poster) for _ in range(N - 1)]
    race = competing(
        [partial(services.document_post, document=fresh(planned), by=poster, key=key())]
        + [
            partial(
                services.credit_apply,
                source=fresh(c),
                allocations=[Allocation(document=fresh(other), amount=D("50.00"))],
                by=rep,
                date=DAY,
                key=key(),
            )
            for c in credits
        ]
    )
    assert fresh(planned).status == DocumentStatus.POSTED, race.messages()
    other = fresh(other)
    assert other.balance_due >= 0
    applied = Application.objects.filter(target=other, removed_at__isnull=True)
    assert sum(a.amount for a in applied) == D("100.00") - other.balance_due
    assert other.balance_due == 0  # something always fills it: the payment or two credits

    # A payment taken on a draft invoice (earmarked), and both posted at once by several
    # posters: each posts once, and the earmark is applied exactly once.
    draft = invoice(customer, rep, poster, "100.00", posted=False)
    earmarked = services.payment_on_document(
        document=draft, amount=D("100.00"), date=DAY, method="check", by=rep
    )
    race = competing(
        [
            partial(
                services.document_post, document=fresh(doc), by=(poster, poster2)[i % 2], key=key()
            )
            for i in range(N // 2)
            for doc in (draft, earmarked)
        ]
    )
    assert len(race.ok) == 2, race.messages()
    assert set(race.messages()) == {
        f"{draft.number} is already posted.",
        f"{earmarked.number} is already posted.",
    }
    applied = Application.objects.filter(target=draft, removed_at__isnull=True)
    assert [(a.origin, a.amount) for a in applied] == [(ApplicationOrigin.EARMARK, D("100.00"))]
    assert fresh(draft).balance_due == fresh(earmarked).balance_due == 0
    ledger_ok()


def test_payments_at_once(people):
    """Record Payment, Payment or Refund → Payment (posted and draft invoice), posting
    payments whose planned invoice is being paid meanwhile, posting an earmarked payment
    and its invoice at once."""
    identical_payment_submissions_record_one_payment(people)
    payments_posted_at_once_against_one_invoice_never_overpay_it(people)


# --- refunds of credits ---------------------------------------------------------------------------


def identical_refund_submissions_have_one_effect(people):
    rep, poster, poster2 = people
    customer = CustomerFactory()
    credit = posted_memo(customer, "100.00", by=rep, post_by=poster)

    def prepare(amount="60.00", method="check"):
        return partial(
            services.refund_prepare,
            document=fresh(credit),
            amount=D(amount),
            method=method,
            date=DAY,
            by=rep,
            key=key(),
        )

    refund = same_request(prepare())
    assert Document.objects.filter(kind=DocumentKind.REFUND, customer=customer).count() == 1
    assert fresh(credit).reserved == D("60.00")

    same_request(partial(services.refund_release, refund=refund, by=poster, date=DAY, key=key()))
    assert fresh(refund).status == DocumentStatus.POSTED
    assert entries_for(refund) == 1
    assert fresh(credit).balance_due == D("-40.00")
    assert fresh(credit).reserved == 0

    same_request(partial(services.refund_reverse, refund=refund, by=poster2, date=DAY, key=key()))
    assert fresh(refund).status == DocumentStatus.VOID
    assert entries_for(refund) == 2
    assert fresh(credit).balance_due == D("-100.00")

    pending = same_request(prepare("100.00"))
    same_request(partial(services.refund_cancel, refund=pending, by=rep, key=key()))
    assert fresh(pending).status == DocumentStatus.VOID
    assert fresh(credit).reserved == 0

    # Store credit: released once, one deposit; reversed once, the deposit withdrawn once.
    store = same_request(prepare("25.00", "store_credit"))
    same_request(partial(services.refund_release, refund=store, by=poster, date=DAY, key=key()))
    assert Deposit.objects.filter(source_refund=store).count() == 1
    same_request(partial(services.refund_reverse, refund=store, by=poster, date=DAY, key=key()))
    assert Deposit.objects.get(source_refund=store).status == DocumentStatus.VOID
    assert fresh(credit).balance_due == D("-100.00")
    ledger_ok()


def conflicting_refunds_never_pay_out_more_than_the_credit(people):
    rep, poster, poster2 = people
    customer = CustomerFactory()
    credit = posted_memo(customer, "100.00", by=rep, post_by=poster)

    # Eight refunds of 60 from a 100 credit: one fits.
    race = competing(
        [
            partial(
                services.refund_prepare,
                document=fresh(credit),
                amount=D("60.00"),
                method="check",
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    assert set(race.messages()) == {"That's more than the open credit of 40.00."}
    refund = race.ok[0]
    assert fresh(credit).reserved == D("60.00")

    # Release and cancel of the same pending refund at once: exactly one happens.
    race = competing(
        [
            partial(services.refund_release, refund=fresh(refund), by=poster, date=DAY, key=key())
            for _ in range(N // 2)
        ]
        + [
            partial(services.refund_cancel, refund=fresh(refund), by=poster2, key=key())
            for _ in range(N // 2)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    refund, credit = fresh(refund), fresh(credit)
    assert credit.reserved == 0
    if refund.status == DocumentStatus.POSTED:
        assert credit.balance_due == D("-40.00")
        # Then eight reversals at once (different keys): one reverses it.
        race = competing(
            [
                partial(services.refund_reverse, refund=fresh(refund), by=poster, key=key())
                for _ in range(N)
            ]
        )
        assert len(race.ok) == 1, race.messages()
        assert entries_for(refund) == 2
    else:
        assert refund.status == DocumentStatus.VOID
        assert entries_for(refund) == 0
    assert fresh(credit).balance_due == D("-100.00")

    # Refunds racing applications of the same credit: together never more than 100.
    targets = [invoice(customer, rep, poster, "60.00") for _ in range(N // 2)]
    race = competing(
        [
            partial(
                services.refund_prepare,
                document=fresh(credit),
                amount=D("60.00"),
                method="check",
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N // 2)
        ]
        + [
            partial(
                services.credit_apply,
                source=fresh(credit),
                allocations=[Allocation(document=fresh(t), amount=D("60.00"))],
                by=rep,
                date=DAY,
                key=key(),
            )
            for t in targets
        ]
    )
    assert len(race.ok) == 1, race.messages()
    credit = fresh(credit)
    assert credit.usable == D("40.00")
    assert 0 <= credit.reserved <= -credit.balance_due

    # Void a credit memo while seven reps prepare refunds from it: either the void wins and
    # nothing is reserved, or it is refused because a refund is pending.
    other = posted_memo(customer, "50.00", by=rep, post_by=poster)
    race = competing(
        [partial(services.document_void, document=fresh(other), by=poster, date=DAY, key=key())]
        + [
            partial(
                services.refund_prepare,
                document=fresh(other),
                amount=D("10.00"),
                method="check",
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N - 1)
        ]
    )
    other = fresh(other)
    pending = Document.objects.filter(refund_of=other, status=DocumentStatus.DRAFT)
    if other.status == DocumentStatus.VOID:
        assert len(race.ok) == 1, race.messages()
        assert not pending.exists()
        assert other.reserved == 0
    else:  # 5 × 10 reserve the whole 50; the void was refused
        assert pending.count() == len(race.ok) == 5, race.messages()
        assert other.reserved == D("50.00")
        assert any("can't be voided" in m for m in race.messages()), race.messages()

    # A store-credit refund is reversed while reps apply the deposit it created.
    store = services.refund_prepare(
        document=credit, amount=D("40.00"), method="store_credit", date=DAY, by=rep
    )
    services.refund_release(refund=store, by=poster, date=DAY)
    store_deposit = Deposit.objects.get(source_refund=store)
    targets = [invoice(customer, rep, poster, "10.00") for _ in range(N - 1)]
    race = competing(
        [partial(services.refund_reverse, refund=fresh(store), by=poster2, date=DAY, key=key())]
        + [
            partial(
                services.deposit_apply,
                deposit=fresh(store_deposit),
                invoice=fresh(t),
                amount=D("10.00"),
                date=DAY,
                by=rep,
                key=key(),
            )
            for t in targets
        ]
    )
    store, store_deposit = fresh(store), fresh(store_deposit)
    applied = DepositApplication.objects.filter(deposit=store_deposit, removed_at__isnull=True)
    if store.status == DocumentStatus.VOID:  # reversed first: nothing was applied
        assert not applied.exists()
        assert store_deposit.status == DocumentStatus.VOID
    else:  # applied first: the reversal was refused; 4 × 10 use up the 40
        assert applied.count() == len(race.ok) == 4, race.messages()
        assert store_deposit.remaining == 0
    ledger_ok()


def test_refunds_at_once(people):
    """Prepare, release, cancel and reverse refunds of credits, store credit included."""
    identical_refund_submissions_have_one_effect(people)
    conflicting_refunds_never_pay_out_more_than_the_credit(people)


# --- customer deposits ---------------------------------------------------------------------------


def identical_deposit_submissions_have_one_effect(people):
    rep, poster, _ = people
    customer = CustomerFactory()

    recorded = same_request(
        partial(
            services.deposit_record,
            customer=customer,
            date=DAY,
            method="check",
            amount=D("500.00"),
            by=rep,
            key=key(),
        )
    )
    assert Deposit.objects.filter(customer=customer).count() == 1

    same_request(partial(services.deposit_post, deposit=recorded, by=poster, key=key()))
    assert entries_for(recorded) == 1
    assert fresh(recorded).remaining == D("500.00")

    target = invoice(customer, rep, poster, "400.00")
    application = same_request(
        partial(
            services.deposit_apply,
            deposit=recorded,
            invoice=target,
            amount=D("150.00"),
            date=DAY,
            by=rep,
            key=key(),
        )
    )
    assert DepositApplication.objects.filter(deposit=recorded).count() == 1
    assert fresh(recorded).remaining == D("350.00")
    assert fresh(target).balance_due == D("250.00")
    assert entries_for(recorded) == 2

    same_request(
        partial(services.deposit_unapply, application=application, by=rep, date=DAY, key=key())
    )
    assert fresh(recorded).remaining == D("500.00")
    assert fresh(target).balance_due == D("400.00")
    assert entries_for(recorded) == 3

    same_request(partial(services.deposit_void, deposit=recorded, by=poster, date=DAY, key=key()))
    assert fresh(recorded).status == DocumentStatus.VOID
    assert entries_for(recorded) == 4

    draft = services.deposit_record(
        customer=customer, date=DAY, method="cash", amount=D("20.00"), by=rep
    )
    same_request(partial(services.deposit_cancel, deposit=draft, by=rep, key=key()))
    assert fresh(draft).status == DocumentStatus.VOID
    ledger_ok()


def conflicting_deposit_applications_never_exceed_the_deposit_or_the_invoice(people):
    rep, poster, _ = people
    customer = CustomerFactory()

    # Eight applications of 150 to one 400 invoice from one 500 deposit: two fit.
    held = posted_deposit(customer, "500.00", by=rep, post_by=poster)
    target = invoice(customer, rep, poster, "400.00")
    race = competing(
        [
            partial(
                services.deposit_apply,
                deposit=fresh(held),
                invoice=fresh(target),
                amount=D("150.00"),
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N)
        ]
    )
    assert len(race.ok) == 2, race.messages()
    assert fresh(target).balance_due == D("100.00")
    assert fresh(held).remaining == D("200.00")

    # Eight applications of 150 from one 500 deposit to eight invoices: three fit.
    targets = [invoice(customer, rep, poster, "150.00") for _ in range(N)]
    held = posted_deposit(customer, "500.00", by=rep, post_by=poster)
    race = competing(
        [
            partial(
                services.deposit_apply,
                deposit=fresh(held),
                invoice=fresh(t),
                amount=D("150.00"),
                date=DAY,
                by=rep,
                key=key(),
            )
            for t in targets
        ]
    )
    assert len(race.ok) == 3, race.messages()
    assert fresh(held).remaining == D("50.00")

    # Eight unapplies of one application (different keys): one removes it.
    application = race.ok[0]
    race = competing(
        [
            partial(services.deposit_unapply, application=fresh(application), by=rep, key=key())
            for _ in range(N)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    assert fresh(held).remaining == D("200.00")

    # Void a deposit while seven reps apply it: one side wins.
    held = posted_deposit(customer, "500.00", by=rep, post_by=poster)
    targets = [invoice(customer, rep, poster, "50.00") for _ in range(N - 1)]
    race = competing(
        [partial(services.deposit_void, deposit=fresh(held), by=poster, date=DAY, key=key())]
        + [
            partial(
                services.deposit_apply,
                deposit=fresh(held),
                invoice=fresh(t),
                amount=D("50.00"),
                date=DAY,
                by=rep,
                key=key(),
            )
            for t in targets
        ]
    )
    held = fresh(held)
    applied = DepositApplication.objects.filter(deposit=held, removed_at__isnull=True)
    if held.status == DocumentStatus.VOID:
        assert not applied.exists()
        assert held.remaining == 0
        assert len(race.ok) == 1
    else:
        assert applied.count() == len(race.ok) == N - 1
        assert held.remaining == D("500.00") - (N - 1) * D("50.00")
    ledger_ok()


def test_deposits_at_once(people):
    """Record, post, apply, unapply, void and cancel Customer Deposits."""
    identical_deposit_submissions_have_one_effect(people)
    conflicting_deposit_applications_never_exceed_the_deposit_or_the_invoice(people)


# --- deposit refunds ------------------------------------------------------------------------------


def identical_deposit_refund_submissions_have_one_effect(people):
    rep, poster, poster2 = people
    customer = CustomerFactory()
    held = posted_deposit(customer, "100.00", by=rep, post_by=poster)

    def prepare(amount="60.00"):
        return partial(
            services.deposit_refund_prepare,
            deposit=fresh(held),
            amount=D(amount),
            method="check",
            date=DAY,
            by=rep,
            key=key(),
        )

    refund = same_request(prepare())
    assert DepositRefund.objects.filter(deposit=held).count() == 1
    assert fresh(held).reserved == D("60.00")

    same_request(
        partial(services.deposit_refund_release, refund=refund, by=poster, date=DAY, key=key())
    )
    assert fresh(refund).status == DocumentStatus.POSTED
    assert fresh(held).remaining == D("40.00")
    assert fresh(held).reserved == 0

    same_request(
        partial(services.deposit_refund_reverse, refund=refund, by=poster2, date=DAY, key=key())
    )
    assert fresh(refund).status == DocumentStatus.VOID
    assert fresh(held).remaining == D("100.00")

    pending = same_request(prepare("100.00"))
    same_request(partial(services.deposit_refund_cancel, refund=pending, by=rep, key=key()))
    assert fresh(pending).status == DocumentStatus.VOID
    assert fresh(held).reserved == 0
    assert fresh(held).remaining == D("100.00")
    ledger_ok()


def conflicting_deposit_refunds_never_pay_out_more_than_the_deposit(people):
    rep, poster, poster2 = people
    customer = CustomerFactory()
    held = posted_deposit(customer, "100.00", by=rep, post_by=poster)

    race = competing(
        [
            partial(
                services.deposit_refund_prepare,
                deposit=fresh(held),
                amount=D("60.00"),
                method="check",
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    refund = race.ok[0]
    assert fresh(held).reserved == D("60.00")

    # Release and cancel of the same refund at once: exactly one happens.
    race = competing(
        [
            partial(
                services.deposit_refund_release,
                refund=fresh(refund),
                by=poster,
                date=DAY,
                key=key(),
            )
            for _ in range(N // 2)
        ]
        + [
            partial(services.deposit_refund_cancel, refund=fresh(refund), by=poster2, key=key())
            for _ in range(N // 2)
        ]
    )
    assert len(race.ok) == 1, race.messages()
    refund, held = fresh(refund), fresh(held)
    assert held.reserved == 0
    if refund.status == DocumentStatus.POSTED:
        assert held.remaining == D("40.00")
        race = competing(
            [
                partial(services.deposit_refund_reverse, refund=fresh(refund), by=poster, key=key())
                for _ in range(N)
            ]
        )
        assert len(race.ok) == 1, race.messages()
    assert fresh(held).remaining == D("100.00")

    # Refunds racing applications of the same deposit: together never more than 100.
    targets = [invoice(customer, rep, poster, "60.00") for _ in range(N // 2)]
    race = competing(
        [
            partial(
                services.deposit_refund_prepare,
                deposit=fresh(held),
                amount=D("60.00"),
                method="check",
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N // 2)
        ]
        + [
            partial(
                services.deposit_apply,
                deposit=fresh(held),
                invoice=fresh(t),
                amount=D("60.00"),
                date=DAY,
                by=rep,
                key=key(),
            )
            for t in targets
        ]
    )
    assert len(race.ok) == 1, race.messages()
    assert fresh(held).usable == D("40.00")

    # Void a deposit while seven reps prepare refunds of it: one side wins.
    other = posted_deposit(customer, "50.00", by=rep, post_by=poster)
    race = competing(
        [partial(services.deposit_void, deposit=fresh(other), by=poster, date=DAY, key=key())]
        + [
            partial(
                services.deposit_refund_prepare,
                deposit=fresh(other),
                amount=D("10.00"),
                method="check",
                date=DAY,
                by=rep,
                key=key(),
            )
            for _ in range(N - 1)
        ]
    )
    other = fresh(other)
    pending = DepositRefund.objects.filter(deposit=other, status=DocumentStatus.DRAFT)
    if other.status == DocumentStatus.VOID:
        assert len(race.ok) == 1, race.messages()
        assert not pending.exists()
    else:  # 5 × 10 reserve the whole 50; the void was refused
        assert pending.count() == len(race.ok) == 5, race.messages()
        assert other.reserved == D("50.00")
    ledger_ok()


def test_deposit_refunds_at_once(people):
    """Prepare, release, cancel and reverse deposit refunds."""
    identical_deposit_refund_submissions_have_one_effect(people)
    conflicting_deposit_refunds_never_pay_out_more_than_the_deposit(people)


# --- through HTTP: the same form posted twice at once ----------------------------------------------


def post_twice_at_once(user, url: str, data: dict) -> list:
    """Two logged-in browsers of one user post the same form at the same moment; then the
    first re-sends it once more (the back button, a retry). The three responses."""
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(user)
        clients.append(client)
    race = at_once([partial(c.post, url, data) for c in clients])
    assert not race.errors, "\n".join(race.errors)
    assert not race.refused, race.messages()
    return [*race.ok, clients[0].post(url, data)]


def assert_same_redirect(responses) -> str:
    assert [r.status_code for r in responses] == [302] * len(responses), [
        (r.status_code, r.content[:2000]) for r in responses
    ]
    locations = {r["Location"] for r in responses}
    assert len(locations) == 1, locations
    return locations.pop()


def test_http_double_submits_do_one_thing(people):
    rep, poster, _ = people
    customer = CustomerFactory()

    # Customer Deposit form.
    location = assert_same_redirect(
        post_twice_at_once(
            rep,
            reverse("deposits:create") + f"?customer={customer.pk}",
            {"amount": "500.00", "method": "check", "date": "2026-11-10", "key": key()},
        )
    )
    held = Deposit.objects.get(customer=customer)
    assert location == held.get_absolute_url()
    assert Deposit.objects.filter(customer=customer).count() == 1
    services.deposit_post(deposit=held, by=poster)

    # Apply Deposit.
    target = invoice(customer, rep, poster, "400.00")
    assert_same_redirect(
        post_twice_at_once(
            rep,
            reverse("invoicing:apply_deposit", args=[target.pk]),
            {"deposit": held.pk, "amount": "150.00", "date": "2026-11-10", "key": key()},
        )
    )
    assert DepositApplication.objects.filter(deposit=held).count() == 1
    assert fresh(target).balance_due == D("250.00")

    # Refund of a whole credit ("<" then Save).
    credit = posted_memo(customer, "100.00", by=rep, post_by=poster)
    assert_same_redirect(
        post_twice_at_once(
            rep,
            reverse("invoicing:payment_or_refund", args=[credit.pk]),
            {
                "type": "refund",
                "method": "check",
                "amount": "100.00",
                "reference": "1042",
                "date": "2026-11-12",
                "memo": "",
                "key": key(),
                "action": "save",
            },
        )
    )
    assert Document.objects.filter(kind=DocumentKind.REFUND, refund_of=credit).count() == 1
    assert fresh(credit).reserved == D("100.00")

    # Record Payment.
    assert_same_redirect(
        post_twice_at_once(
            rep,
            reverse("payments:create") + f"?customer={customer.pk}",
            {
                "amount": "80.00",
                "method": "check",
                "reference": "77",
                "date": "2026-11-10",
                "memo": "",
                "key": key(),
                "action": "save",
            },
        )
    )
    assert Document.objects.filter(kind=DocumentKind.PAYMENT, customer=customer).count() == 1

    # Create Credit Memo from an invoice, all of its only line.
    source = invoice(customer, rep, poster, "60.00")
    source_line = source.lines.get()
    location = assert_same_redirect(
        post_twice_at_once(
            rep,
            reverse("invoicing:credit_from_invoice", args=[source.pk]),
            {
                "date": "2026-11-12",
                "reason": "return",
                f"include_{source_line.pk}": "on",
                f"qty_{source_line.pk}": "1",
                "key": key(),
            },
        )
    )
    assert location == Document.objects.get(source_invoice=source).get_absolute_url()

    # Post (the Poster's button).
    draft = invoice(customer, rep, poster, "90.00", posted=False)
    assert_same_redirect(
        post_twice_at_once(poster, reverse("invoicing:post", args=[draft.pk]), {"key": key()})
    )
    assert fresh(draft).status == DocumentStatus.POSTED
    assert entries_for(draft) == 1
    ledger_ok()


# --- customers -------------------------------------------------------------------------------------


def test_customers_at_once(people):
    """New customer: the same form at once creates one customer (service and HTTP);
    different forms with the same code at once create one, the rest are told it exists."""
    rep, _, _ = people

    def create(code, k):
        return partial(
            customer_services.customer_create,
            by=rep,
            key=k,
            code=code,
            name=f"Customer {code}",
            billing_terms="net_30",
        )

    created = same_request(create("RACE1", key()))
    assert Customer.objects.filter(code="RACE1").count() == 1
    assert created.code == "RACE1"

    race = competing([create("RACE2", key()) for _ in range(N)])
    assert len(race.ok) == 1, race.messages()
    assert Customer.objects.filter(code="RACE2").count() == 1

    location = assert_same_redirect(
        post_twice_at_once(
            rep,
            reverse("customers:create"),
            {
                "code": "RACE3",
                "name": "Race Three",
                "billing_terms": "net_30",
                "delivery": "email",
                "is_active": "on",
                "key": key(),
            },
        )
    )
    assert location == Customer.objects.get(code="RACE3").get_absolute_url()
    ledger_ok()
