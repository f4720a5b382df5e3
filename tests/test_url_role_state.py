"""URL × role × state (issue 10): every desk URL, walked from the URL resolver, asked for
every kind and state of document, deposit, refund and application (wrong kinds included),
by every role, with GET and POST (an empty body and plausible ones with a fresh key).

For each request:
  (a) never a 500;
  (b) anonymous → the login page; a user with no role → 403;
  (c) the answer agrees with `invoicing.policies.decide`: not applicable → 404, the role
      lacks it → 403, refused → a message and nothing changed; allowed → not 403/404/405;
  (d) a request that should not succeed changed nothing (row counts and balances), GETs
      never change anything, and whatever succeeded leaves `check_ledger` green.

Each request runs in a savepoint that is rolled back, so every request sees the same world.
A URL with no row in EXPECTATIONS fails `test_every_url_has_an_expectation`: a new URL has
to be thought about here.
"""

import datetime
import logging
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.db import DatabaseError, connection, transaction
from django.test import Client, override_settings
from django.urls import URLResolver, get_resolver, reverse

from config.roles import Action, Role, user_may
from customers.models import Customer
from customers.services import customer_create
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
    PlannedApplication,
)
from invoicing.policies import Act, decide
from ledger.models import (
    Account,
    AuditEvent,
    IdempotencyKey,
    JournalEntry,
    JournalLine,
    SystemRole,
)
from tests.factories import item, line, make_user
from tests.helpers import today
from tests.invoicing.books import fast_password_hashing, ledger_problems  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hashing")]

D = Decimal
MISSING = 987_654_321  # an id no row has
USED_KEY = "url-role-state-used-key"  # the rep recorded a payment with it
SKIPPED_PREFIXES = ("admin/", "static/")


def new_key() -> str:
    return uuid.uuid4().hex


# --- the URLs, from the resolver -------------------------------------------------------------


def url_patterns():
    """(name, route, argument names) of every URL of the desk (not the admin, not static)."""

    def walk(patterns, prefix="", namespace=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if route.startswith(SKIPPED_PREFIXES):
                continue
            if isinstance(p, URLResolver):
                ns = ":".join(x for x in (namespace, p.namespace or "") if x)
                yield from walk(p.url_patterns, route, ns)
            else:
                name = f"{namespace}:{p.name}" if namespace and p.name else p.name
                yield name, route, tuple(sorted(p.pattern.converters))

    return list(walk(get_resolver().url_patterns))


# --- the world: documents of every kind and state, made through the services -----------------


class World:
    """Named objects of every kind and state. `docs`, `deposits`, `deposit_refunds`,
    `applications` and `deposit_applications` list every row the URLs are asked about."""

    def __init__(self, rep, poster):
        self.rep, self.poster = rep, poster
        self.named: dict[str, object] = {}
        self.day = today() - datetime.timedelta(days=3)
        self.customer = self.add(
            "customer",
            customer_create(by=rep, code="URL1", name="URL Test Co", billing_terms="net_30"),
        )
        self.other_customer = self.add(
            "other customer",
            customer_create(by=rep, code="URL2", name="Other Co", billing_terms="net_30"),
        )
        self._build()
        self.docs = list(Document.objects.order_by("pk"))
        self.deposits = list(Deposit.objects.order_by("pk"))
        self.deposit_refunds = list(DepositRefund.objects.order_by("pk"))
        self.applications = list(Application.objects.order_by("pk"))
        self.deposit_applications = list(DepositApplication.objects.order_by("pk"))
        self.label = {}
        for name, obj in self.named.items():
            self.label[(type(obj).__name__, obj.pk)] = name

    def name_of(self, obj) -> str:
        if obj is None:
            return "missing"
        return self.label.get((type(obj).__name__, obj.pk), f"{type(obj).__name__}#{obj.pk}")

    def add(self, name, obj):
        self.named[name] = obj
        return obj

    # builders ---------------------------------------------------------------------------------

    def invoice(self, name, *, post=False, lines=None, customer=None):
        doc = services.document_create(
            customer=customer or self.customer, date=self.day, lines=lines or [line()], by=self.rep
        )
        if post:
            doc = services.document_post(document=doc, by=self.poster)
        return self.add(name, doc)

    def memo(self, name, amount, *, post=False):
        doc = services.document_create(
            kind=DocumentKind.CREDIT_MEMO,
            customer=self.customer,
            date=self.day,
            lines=[line("REW", "1", amount)],
            by=self.rep,
        )
        if post:
            doc = services.document_post(document=doc, by=self.poster)
        return self.add(name, doc)

    def memo_from(self, name, invoice, *, post=False):
        first = invoice.lines.order_by("pk").first()
        doc = services.credit_memo_create_from_invoice(
            invoice=invoice,
            quantities={first.pk: D("1")},
            reason="return",
            by=self.rep,
            date=self.day,
        )
        if post:
            doc = services.document_post(document=doc, by=self.poster)
        return self.add(name, doc)

    def void(self, doc):
        return services.document_void(document=doc, by=self.poster, date=today())

    def payment(self, name, amount, *, post=False, allocations=(), by=None, key=""):
        doc = services.payment_record(
            customer=self.customer,
            date=self.day,
            method="check",
            amount=D(amount),
            allocations=list(allocations),
            by=by or self.rep,
            key=key,
        )
        if post:
            doc = services.document_post(document=doc, by=self.poster)
        return self.add(name, doc)

    def refund(self, name, source, *, method="check", by=None):
        return self.add(
            name,
            services.refund_prepare(
                document=source,
                amount=D("10.00"),
                method=method,
                date=self.day,
                by=by or self.rep,
            ),
        )

    def deposit(self, name, amount, *, post=False):
        dep = services.deposit_record(
            customer=self.customer, date=self.day, method="check", amount=D(amount), by=self.rep
        )
        if post:
            dep = services.deposit_post(deposit=dep, by=self.poster)
        return self.add(name, dep)

    def deposit_refund(self, name, deposit, *, by=None):
        return self.add(
            name,
            services.deposit_refund_prepare(
                deposit=deposit,
                amount=D("10.00"),
                method="check",
                date=self.day,
                by=by or self.rep,
            ),
        )

    def _build(self):
        rep, poster = self.rep, self.poster

        # Invoices: draft, posted (open), void, cancelled draft.
        self.invoice("invoice draft")
        inv_open = self.invoice("invoice posted", post=True)
        self.void(self.invoice("invoice void", post=True))
        inv = self.invoice("invoice cancelled")
        services.document_cancel_draft(document=inv, by=rep)

        # Credit memos, standalone: draft, posted (open credit), void.
        self.memo("memo draft", "50.00")
        self.memo("memo posted", "50.00", post=True)
        self.void(self.memo("memo void", "50.00", post=True))

        # Credit memos from an invoice: draft, posted, void.
        source = self.invoice(
            "invoice with credit memos", post=True, lines=[line(quantity="10", unit_price="10.00")]
        )
        self.memo_from("memo from invoice draft", source)
        self.memo_from("memo from invoice posted", source, post=True)
        self.void(self.memo_from("memo from invoice void", source, post=True))

        # An invoice with a credit applied (by hand), and an application removed again.
        inv_credited = self.invoice("invoice with credit applied", post=True)
        memo_applied = self.memo("memo partly applied", "30.00", post=True)
        self.add(
            "application by hand",
            services.credit_apply(
                source=memo_applied,
                allocations=[Allocation(document=inv_credited, amount=D("20.00"))],
                by=rep,
                date=self.day,
            )[0],
        )
        removed = services.credit_apply(
            source=memo_applied,
            allocations=[Allocation(document=inv_open, amount=D("5.00"))],
            by=rep,
            date=self.day,
        )[0]
        services.credit_unapply(application=removed, by=rep)
        self.add("application removed", removed)

        # Payments: draft, draft with a planned allocation, posted with unapplied credit,
        # posted and fully applied, void, cancelled draft.
        # Its key is the one every form is also re-sent with ("key already used").
        self.payment("payment draft", "40.00", key=USED_KEY)
        self.payment(
            "payment draft planned", "40.00", allocations=[Allocation(inv_open, D("10.00"))]
        )
        pay_open = self.payment("payment posted with unapplied credit", "60.00", post=True)
        inv_paid = self.invoice("invoice paid in full", post=True)
        self.payment(
            "payment posted fully applied",
            inv_paid.grand_total,
            post=True,
            allocations=[Allocation(inv_paid, inv_paid.grand_total)],
        )
        self.void(self.payment("payment void", "25.00", post=True))
        pay = self.payment("payment cancelled", "25.00")
        services.document_cancel_draft(document=pay, by=rep)

        # Spectra's Method 2: a draft invoice with a posted payment earmarked for it, and an
        # invoice posted after, whose earmark made an application.
        inv_draft_paid = self.invoice("invoice draft with payment taken")
        pay = services.payment_on_document(
            document=inv_draft_paid, amount=D("30.00"), by=rep, date=self.day, method="check"
        )
        self.add("payment earmarked on a draft", services.document_post(document=pay, by=poster))
        inv_earmark = self.invoice("invoice posted after payment taken")
        pay = services.payment_on_document(
            document=inv_earmark, amount=D("30.00"), by=rep, date=self.day, method="check"
        )
        self.add("payment earmarked, applied", services.document_post(document=pay, by=poster))
        services.document_post(document=inv_earmark, by=poster)
        self.add(
            "application by earmark",
            Application.objects.get(target=inv_earmark, origin="earmark"),
        )

        # Refunds of a credit: pending (by the rep; by the Poster, for four eyes), released,
        # cancelled, reversed; by check and as store credit.
        big = self.memo("memo with refunds", "1000.00", post=True)
        self.refund("refund pending", big)
        self.refund("refund pending, prepared by the Poster", big, by=poster)
        self.refund("refund of a payment pending", pay_open)
        released = self.refund("refund released", big)
        services.refund_release(refund=released, by=poster)
        self.add(
            "application by refund release",
            Application.objects.get(target=released, origin="refund"),
        )
        services.refund_cancel(refund=self.refund("refund cancelled", big), by=rep)
        reversed_ = self.refund("refund reversed", big)
        services.refund_release(refund=reversed_, by=poster)
        services.refund_reverse(refund=reversed_, by=poster)

        self.refund("store credit refund pending", big, method="store_credit")
        released = self.refund("store credit refund released", big, method="store_credit")
        services.refund_release(refund=released, by=poster)
        self.add("store credit deposit", Deposit.objects.get(source_refund=released))
        used = self.refund("store credit refund released, credit used", big, method="store_credit")
        services.refund_release(refund=used, by=poster)
        store_used = self.add("store credit deposit, used", Deposit.objects.get(source_refund=used))
        inv_store = self.invoice("invoice paid with store credit", post=True)
        services.deposit_apply(
            deposit=store_used, invoice=inv_store, amount=D("5.00"), by=rep, date=today()
        )
        services.refund_cancel(
            refund=self.refund("store credit refund cancelled", big, method="store_credit"),
            by=rep,
        )
        reversed_ = self.refund("store credit refund reversed", big, method="store_credit")
        services.refund_release(refund=reversed_, by=poster)
        self.add("store credit deposit, withdrawn", Deposit.objects.get(source_refund=reversed_))
        services.refund_reverse(refund=reversed_, by=poster)

        # Deposits: draft, posted, void, cancelled; applied (and an application removed);
        # used up; with refunds pending, released, cancelled, reversed.
        self.deposit("deposit draft", "100.00")
        self.deposit("deposit posted", "100.00", post=True)
        services.deposit_void(
            deposit=self.deposit("deposit void", "100.00", post=True), by=poster, date=today()
        )
        services.deposit_cancel(deposit=self.deposit("deposit cancelled", "100.00"), by=rep)
        applied = self.deposit("deposit partly applied", "100.00", post=True)
        inv_dep = self.invoice("invoice with a deposit applied", post=True)
        self.add(
            "deposit application",
            services.deposit_apply(
                deposit=applied, invoice=inv_dep, amount=D("50.00"), by=rep, date=self.day
            ),
        )
        removed = services.deposit_apply(
            deposit=applied, invoice=inv_dep, amount=D("10.00"), by=rep, date=self.day
        )
        services.deposit_unapply(application=removed, by=rep)
        self.add("deposit application removed", removed)
        used_up = self.deposit("deposit used up", "20.00", post=True)
        services.deposit_apply(
            deposit=used_up, invoice=inv_dep, amount=D("20.00"), by=rep, date=self.day
        )
        with_refunds = self.deposit("deposit with refunds", "300.00", post=True)
        self.deposit_refund("deposit refund pending", with_refunds)
        self.deposit_refund(
            "deposit refund pending, prepared by the Poster", with_refunds, by=poster
        )
        services.deposit_refund_release(
            refund=self.deposit_refund("deposit refund released", with_refunds), by=poster
        )
        services.deposit_refund_cancel(
            refund=self.deposit_refund("deposit refund cancelled", with_refunds), by=rep
        )
        reversed_ = self.deposit_refund("deposit refund reversed", with_refunds)
        services.deposit_refund_release(refund=reversed_, by=poster)
        services.deposit_refund_reverse(refund=reversed_, by=poster)

        # The other customer: an open invoice (the wrong owner for an application's URL).
        self.invoice("other customer's invoice", post=True, customer=self.other_customer)

        # Names point at the rows as they are now.
        for name, obj in list(self.named.items()):
            self.named[name] = type(obj).objects.get(pk=obj.pk)


# --- what each URL is expected to do ----------------------------------------------------------


Cases = Callable[[World], list[dict]]
Bodies = Callable[[World, object], dict[str, dict]]


@dataclass(frozen=True)
class Expect:
    """How to ask one URL.

    cases:   the URL arguments (and query) to try, as dicts of reverse kwargs (+ "?": query).
    resolve: the object the view acts on, from those arguments (None: nothing → 404).
    act:     the policy act the URL performs on that object (a function of the object and
             the request data), or None for pages the policy doesn't govern.
    need:    for pages without an act: the role action they need (else 403).
    get:     False for POST-only URLs (GET → 405).
    post:    False for GET-only pages (listings: POST → 405).
    bodies:  plausible POST bodies by name (an empty body is always tried too).
    compound: bodies that do more than the act itself (e.g. "Unapply all and void"), so the
             act's refusal doesn't mean nothing may change.
    """

    cases: Cases
    resolve: Callable[[dict], object | None] = lambda kw: True
    act: Callable[[object, dict], Act | None] | None = None
    need: Action = Action.VIEW
    get: bool = True
    post: bool = True
    bodies: Bodies = lambda w, obj: {}
    compound: frozenset = field(default_factory=frozenset)


def _get(model, **filters):
    return model.objects.filter(**filters).first()


# cases -----------------------------------------------------------------------------------------


def no_args(w):
    return [{}]


def with_customer_query(w):
    return [{}, {"?": f"customer={w.customer.pk}"}]


def each_customer(w):
    return [{"pk": w.customer.pk}, {"pk": MISSING}]


def each_account(w):
    return [{"pk": Account.objects.get(system_role=SystemRole.RECEIVABLE).pk}, {"pk": MISSING}]


def each_document(w):
    return [{"pk": d.pk} for d in w.docs] + [{"pk": MISSING}]


def each_deposit(w):
    return [{"pk": d.pk} for d in w.deposits] + [{"pk": MISSING}]


def each_deposit_refund(w):
    """Every deposit refund, and ids of deposits (which are not refunds)."""
    ids = [r.pk for r in w.deposit_refunds] + [d.pk for d in w.deposits] + [MISSING]
    return [{"pk": pk} for pk in dict.fromkeys(ids)]


def each_application(w):
    """Each application through each of its documents, through a document it doesn't
    belong to, and ids of deposit applications (another table)."""
    unrelated = w.named["other customer's invoice"]
    cases = []
    for app in w.applications:
        for pk in (app.target_id, app.source_id, unrelated.pk):
            cases.append({"pk": pk, "application_pk": app.pk})
    for app in w.deposit_applications:
        cases.append({"pk": app.invoice_id, "application_pk": app.pk})
    cases.append({"pk": w.named["invoice with credit applied"].pk, "application_pk": MISSING})
    cases.append({"pk": MISSING, "application_pk": w.named["application by hand"].pk})
    return cases


def each_deposit_application(w):
    """Each deposit application through its invoice and through another one, and ids of
    credit applications (another table)."""
    unrelated = w.named["other customer's invoice"]
    cases = []
    for app in w.deposit_applications:
        for pk in (app.invoice_id, unrelated.pk):
            cases.append({"pk": pk, "application_pk": app.pk})
    for app in w.applications:
        cases.append({"pk": app.target_id, "application_pk": app.pk})
    cases.append({"pk": w.named["invoice with a deposit applied"].pk, "application_pk": MISSING})
    return cases


# resolvers ---------------------------------------------------------------------------------------


def document(kw):
    return _get(Document, pk=kw["pk"])


def deposit(kw):
    return _get(Deposit, pk=kw["pk"])


def deposit_refund(kw):
    return _get(DepositRefund, pk=kw["pk"])


def customer(kw):
    return _get(Customer, pk=kw["pk"])


def account(kw):
    return _get(Account, pk=kw["pk"])


def application(kw):
    doc = document(kw)
    if doc is None:
        return None
    app = _get(Application, pk=kw["application_pk"])
    return app if app is not None and doc.pk in (app.target_id, app.source_id) else None


def deposit_application(kw):
    if document(kw) is None:
        return None
    return _get(DepositApplication, pk=kw["application_pk"], invoice_id=kw["pk"])


def fixed(act):
    return lambda obj, data: act


def payment_or_refund_act(obj, data):
    kind = data.get("type") or ("refund" if services.refund_source(obj)[0] else "payment")
    return Act(kind) if kind in ("refund", "payment") else None


# bodies --------------------------------------------------------------------------------------------


def iso(day) -> str:
    return day.isoformat()


def key_body(w, obj):
    return {"with a key": {"key": new_key()}}


def void_body(w, obj):
    return {
        "void": {"date": iso(today()), "key": new_key()},
        "unapply all and void": {"date": iso(today()), "key": new_key(), "unapply_all": "1"},
    }


def apply_body(w, obj):
    data = {"action": "apply", "date": iso(today()), "key": new_key()}
    if obj.balance_due > 0:
        counterpart = selectors.open_credits(obj.customer).exclude(pk=obj.pk).first()
    else:
        counterpart = selectors.open_invoices(obj.customer).exclude(pk=obj.pk).first()
    if counterpart is not None:
        data[f"amount_{counterpart.pk}"] = "1.00"
    return {"apply 1.00": data}


def money_fields(amount="1.00"):
    return {
        "action": "save",
        "method": "check",
        "amount": amount,
        "date": iso(today()),
        "reference": "123",
        "key": new_key(),
    }


def payment_or_refund_body(w, obj):
    return {
        "refund 1.00": {"type": "refund", **money_fields()},
        "payment 1.00": {"type": "payment", **money_fields()},
    }


def apply_deposit_body(w, obj):
    dep = selectors.deposits_with_remainder(obj.customer).first() or w.named["deposit posted"]
    return {
        "apply 1.00": {
            "deposit": dep.pk,
            "amount": "1.00",
            "date": iso(today()),
            "key": new_key(),
        }
    }


def _source_line_fields(invoice) -> dict:
    first = invoice.lines.order_by("pk").first() if invoice is not None else None
    if first is None:
        return {}
    return {f"include_{first.pk}": "on", f"qty_{first.pk}": "1"}


def credit_memo_body(w, obj):
    invoice = obj if obj.kind == DocumentKind.INVOICE else obj.source_invoice
    data = {"date": iso(w.day), "reason": "return", "key": new_key()}
    return {"credit 1 of the first line": {**data, **_source_line_fields(invoice)}}


def editor_fields(customer_pk, day) -> dict:
    return {
        "customer": customer_pk,
        "date": iso(day),
        "billing_terms": "",
        "description": "from the URL × role test",
        "reason": "return",
        "note": "",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-item": item("PRT").pk,
        "lines-0-quantity": "1",
        "lines-0-unit_price": "5.00",
        "key": new_key(),
    }


def edit_body(w, obj):
    # Edits carry the version they loaded instead of a one-time key.
    data = {**editor_fields(obj.customer_id, obj.date), "version": obj.version}
    del data["key"]
    return {"save": {**data, **_source_line_fields(obj.source_invoice)}}


def create_body(w, obj):
    return {"save": editor_fields(w.customer.pk, w.day)}


def deposit_refund_body(w, obj):
    return {"refund 1.00": money_fields()}


def customer_body(w, obj):
    return {
        "save": {
            "code": f"T{uuid.uuid4().hex[:6].upper()}",
            "name": "Renamed by the URL test",
            "billing_terms": "net_30",
            "delivery": "email",
            "is_active": "on",
            "version": getattr(obj, "version", ""),
        }
    }


def payment_record_body(w, obj):
    data = {**money_fields("25.00"), f"amount_{w.named['invoice posted'].pk}": "1.00"}
    return {"record 25.00": data}


def deposit_record_body(w, obj):
    return {"record 25.00": money_fields("25.00")}


def email_body(w, obj):
    return {
        "email": {
            "to": "ap@example.com",
            "cc": "",
            "subject": "From the URL test",
            "message": "",
            "key": new_key(),
        },
        "bad address": {"to": "not-an-address", "subject": "s", "key": new_key()},
    }


def selection_body(w, obj):
    posted = [d.pk for d in w.docs if d.status == "posted"][:2]
    return {"two posted": {"ids": posted, "key": new_key()}, "nothing ticked": {"key": new_key()}}


def post_queue_body(w, obj):
    drafts = [f"{d.pk}:{d.version}" for d in w.docs if d.status == "draft" and d.kind != "refund"]
    return {"two drafts": {"documents": drafts[:2], "key": new_key()}}


def statement_email_body(w, obj):
    return {
        "email": {
            "kind": "open_item",
            "as_of": iso(w.day),
            "to": "ap@example.com",
            "subject": "Statement from the URL test",
            "key": new_key(),
        },
        "bad period": {"kind": "activity", "as_of": iso(w.day), "start": "2999-01-01"},
    }


def send_statements_body(w, obj):
    return {
        "send": {"kind": "open_item", "as_of": iso(w.day), "key": new_key()},
        "bad date": {"kind": "open_item", "as_of": "not-a-date", "key": new_key()},
    }


def print_body(w, obj):
    # Printing renders and stores PDFs (tests/invoicing/test_sending.py prints, with its own
    # storage); here only what renders nothing.
    return {"nothing ticked": {"key": new_key()}, "no such document": {"ids": [MISSING]}}


EXPECTATIONS: dict[str, Expect] = {
    "home": Expect(no_args, post=False),
    # login and logout are checked by test_login_and_logout_answer_every_role.
    "login": Expect(no_args),
    "logout": Expect(no_args),
    # Your account and the two-factor steps: test_account_pages_answer_every_role.
    "account": Expect(no_args),
    "password_change": Expect(no_args),
    "password_change_done": Expect(no_args),
    "two_factor_verify": Expect(no_args),
    "two_factor_setup": Expect(no_args),
    "two_factor_codes": Expect(no_args),
    "customers:list": Expect(no_args, post=False),
    "customers:search": Expect(no_args, post=False),  # the autocomplete's suggestions
    "customers:create": Expect(no_args, need=Action.EDIT_CUSTOMERS, bodies=customer_body),
    "customers:detail": Expect(each_customer, resolve=customer),
    "customers:edit": Expect(
        each_customer, resolve=customer, need=Action.EDIT_CUSTOMERS, bodies=customer_body
    ),
    "invoicing:list": Expect(no_args, post=False),
    "invoicing:create": Expect(with_customer_query, need=Action.EDIT_DRAFTS, bodies=create_body),
    "invoicing:create_credit_memo": Expect(
        with_customer_query, need=Action.EDIT_DRAFTS, bodies=create_body
    ),
    "invoicing:apply": Expect(each_document, document, fixed(Act.APPLY), bodies=apply_body),
    "invoicing:unapply": Expect(
        each_application, application, fixed(Act.UNAPPLY), get=False, bodies=key_body
    ),
    "invoicing:payment_or_refund": Expect(
        each_document, document, payment_or_refund_act, bodies=payment_or_refund_body
    ),
    "invoicing:release": Expect(
        each_document, document, fixed(Act.RELEASE), get=False, bodies=key_body
    ),
    "invoicing:cancel_refund": Expect(
        each_document, document, fixed(Act.CANCEL_REFUND), get=False, bodies=key_body
    ),
    "invoicing:reverse_refund": Expect(
        each_document, document, fixed(Act.REVERSE_REFUND), bodies=key_body
    ),
    "invoicing:apply_deposit": Expect(
        each_document, document, fixed(Act.APPLY_DEPOSIT), bodies=apply_deposit_body
    ),
    "invoicing:deposit_unapply": Expect(
        each_deposit_application,
        deposit_application,
        fixed(Act.UNAPPLY),
        get=False,
        bodies=key_body,
    ),
    "invoicing:credit_from_invoice": Expect(
        each_document, document, fixed(Act.CREDIT_MEMO), bodies=credit_memo_body
    ),
    "invoicing:detail": Expect(each_document, document),
    "invoicing:print": Expect(each_document, document, post=False),
    "invoicing:pdf": Expect(each_document, document, post=False),
    "invoicing:edit": Expect(each_document, document, fixed(Act.EDIT), bodies=edit_body),
    "invoicing:post": Expect(each_document, document, fixed(Act.POST), bodies=key_body),
    "invoicing:void": Expect(
        each_document,
        document,
        fixed(Act.VOID),
        bodies=void_body,
        compound=frozenset({"unapply all and void"}),
    ),
    "invoicing:cancel": Expect(
        each_document, document, fixed(Act.CANCEL), get=False, bodies=key_body
    ),
    "payments:list": Expect(no_args, post=False),
    "payments:create": Expect(
        with_customer_query, need=Action.EDIT_DRAFTS, bodies=payment_record_body
    ),
    "deposits:list": Expect(no_args, post=False),
    "deposits:create": Expect(
        with_customer_query, need=Action.EDIT_DRAFTS, bodies=deposit_record_body
    ),
    "deposits:detail": Expect(each_deposit, deposit),
    "deposits:print": Expect(each_deposit, deposit, post=False),
    "deposits:pdf": Expect(each_deposit, deposit, post=False),
    "deposits:post": Expect(each_deposit, deposit, fixed(Act.POST), get=False, bodies=key_body),
    "deposits:cancel": Expect(each_deposit, deposit, fixed(Act.CANCEL), get=False, bodies=key_body),
    "deposits:void": Expect(each_deposit, deposit, fixed(Act.VOID), get=False, bodies=void_body),
    "deposits:refund": Expect(each_deposit, deposit, fixed(Act.REFUND), bodies=deposit_refund_body),
    "deposits:refund_release": Expect(
        each_deposit_refund, deposit_refund, fixed(Act.RELEASE), get=False, bodies=key_body
    ),
    "deposits:refund_cancel": Expect(
        each_deposit_refund,
        deposit_refund,
        fixed(Act.CANCEL_REFUND),
        get=False,
        bodies=key_body,
    ),
    "deposits:refund_reverse": Expect(
        each_deposit_refund,
        deposit_refund,
        fixed(Act.REVERSE_REFUND),
        get=False,
        bodies=key_body,
    ),
    "invoicing:email": Expect(each_document, document, fixed(Act.SEND), bodies=email_body),
    "deposits:email": Expect(each_deposit, deposit, fixed(Act.SEND), bodies=email_body),
    "invoicing:to_be_sent": Expect(no_args, post=False),
    "invoicing:post_queue": Expect(no_args, need=Action.POST, bodies=post_queue_body),
    "reports:aging": Expect(no_args, post=False),
    "reports:trial_balance": Expect(no_args, need=Action.VIEW_LEDGER, post=False),
    "reports:account_ledger": Expect(
        each_account, resolve=account, need=Action.VIEW_LEDGER, post=False
    ),
    "invoicing:to_be_sent_progress": Expect(no_args, post=False),
    # Customer statements: anyone with a role views and prints them; emailing them (one,
    # or Send statements) needs the role that sends documents (policies.may_send_statements).
    "customers:statement": Expect(each_customer, resolve=customer, post=False),
    "customers:statement_print": Expect(each_customer, resolve=customer, post=False),
    "customers:statement_pdf": Expect(each_customer, resolve=customer, post=False),
    "customers:statement_email": Expect(
        each_customer, resolve=customer, need=Action.EDIT_DRAFTS, bodies=statement_email_body
    ),
    "reports:statements": Expect(no_args, need=Action.EDIT_DRAFTS, bodies=send_statements_body),
    "reports:statement_run": Expect(
        lambda w: [{"pk": MISSING}], resolve=lambda kw: None, need=Action.EDIT_DRAFTS, post=False
    ),
    "invoicing:to_be_sent_email": Expect(
        no_args, need=Action.EDIT_DRAFTS, get=False, bodies=selection_body
    ),
    "invoicing:to_be_sent_print": Expect(
        no_args, need=Action.EDIT_DRAFTS, get=False, bodies=print_body
    ),
}
AUTH_URLS = {
    "login",
    "logout",
    "account",
    "password_change",
    "password_change_done",
    "two_factor_verify",
    "two_factor_setup",
    "two_factor_codes",
}
# A body sent again with a key already used (by the rep, for a payment): whatever the URL,
# the object and the role, it does nothing a second time and never answers 500.
RESENT = ", key already used"


# --- what a refused request must leave alone ----------------------------------------------------


COUNTED = (
    Document,
    DocumentLine,
    Application,
    PlannedApplication,
    Deposit,
    DepositApplication,
    DepositRefund,
    JournalEntry,
    JournalLine,
    AuditEvent,
    IdempotencyKey,
    Customer,
)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


FINGERPRINT_SQL = [
    "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {_table(m)})" for m in COUNTED),
    f"SELECT id, status, grand_total, balance_due, reserved, version FROM {_table(Document)}",
    f"SELECT id, status, remaining, reserved FROM {_table(Deposit)}",
    f"SELECT id, status, amount FROM {_table(DepositRefund)}",
    f"SELECT id, amount, removed_at FROM {_table(Application)}",
    f"SELECT id, removed_at FROM {_table(DepositApplication)}",
    f"SELECT id, code, name, version FROM {_table(Customer)}",
]  # noqa: S608 - our own table names


def fingerprint():
    """Row counts, and the state and balances of every document, deposit, refund,
    application and customer (raw SQL: it runs after every request)."""
    with connection.cursor() as cursor:
        out = []
        for sql in FINGERPRINT_SQL:
            cursor.execute(sql + ("" if sql.startswith("SELECT (") else " ORDER BY id"))
            out.append(tuple(map(tuple, cursor.fetchall())))
    return tuple(out)


def differences(before, after) -> str:
    names = [m.__name__ for m in COUNTED]
    if before[0] != after[0]:
        return ", ".join(
            f"{n} {a}→{b}"
            for n, a, b in zip(names, before[0][0], after[0][0], strict=True)
            if a != b
        )
    for label, b, a in zip(
        ("documents", "deposits", "deposit refunds", "applications", "deposit apps", "customers"),
        before[1:],
        after[1:],
        strict=True,
    ):
        if a != b:
            changed = sorted(set(a) - set(b))
            return f"{label} changed: {changed[:3]}"
    return ""


# --- the expectation for one request -------------------------------------------------------


@dataclass
class Outcome:
    """What the answer must be: `status` (exact) or one of the kinds below."""

    kind: str  # "login", "403", "404", "405", "refused", "allowed", "resent"
    reason: str = ""
    may_change: bool = False


_decisions: dict = {}


def _decide(user, act, target):
    """decide(), remembered: every request sees the same world."""
    ident = (user.pk, act, type(target), target.pk)
    if ident not in _decisions:
        _decisions[ident] = decide(user, act, target)
    return _decisions[ident]


def expected(user, spec: Expect, target, method: str, data: dict, body: str) -> Outcome:
    if user is None:
        return Outcome("login")
    if not user_may(user, Action.VIEW):
        return Outcome("403", "no role")
    if (method == "GET" and not spec.get) or (method == "POST" and not spec.post):
        return Outcome("405")
    if body.endswith(RESENT):
        return Outcome("resent", "a used key")
    may_change = method == "POST"
    if spec.act is None:  # a page the policy doesn't govern: its role, then its object
        if not user_may(user, spec.need):
            return Outcome("403", f"needs {spec.need}")
        if target is None:
            return Outcome("404", "no such object")
        return Outcome("allowed", may_change=may_change)
    if target is None:
        return Outcome("404", "no such object")
    act = spec.act(target, data)
    if act is None:
        return Outcome("404", "no such act")
    decision = _decide(user, act, target)
    if decision.not_applicable:
        return Outcome("404", decision.reason)
    if decision.forbidden:
        return Outcome("403", decision.reason)
    if not decision.allowed:
        return Outcome("refused", decision.reason, may_change=may_change and body in spec.compound)
    return Outcome("allowed", may_change=may_change)


def error_messages(response) -> list[str]:
    return [
        m.message for m in get_messages(response.wsgi_request) if m.level >= message_levels.WARNING
    ]


def check(outcome: Outcome, method: str, response, changed: str) -> str:
    """'' when the response agrees with the outcome, else what is wrong."""
    status = response.status_code
    if status >= 500:
        return f"{status} (server error)"
    if outcome.kind == "login":
        location = response.get("Location", "")
        if status != 302 or not location.startswith(reverse("login")):
            return f"{status} {location!r}, expected a redirect to the login page"
    elif outcome.kind in ("403", "404", "405"):
        if status != int(outcome.kind):
            return f"{status}, expected {outcome.kind} ({outcome.reason})"
    elif outcome.kind == "refused":
        if status in (403, 404, 405):
            return f"{status}, but the policy only refuses it: {outcome.reason!r}"
        if status == 302 and not outcome.may_change and not error_messages(response):
            return f"302 without a message, refused by the policy: {outcome.reason!r}"
    elif outcome.kind == "resent":
        pass  # any answer but a 500, and nothing changes (below)
    elif outcome.kind == "allowed":
        if status in (403, 404, 405):
            return f"{status}, but the policy allows it"
        if method == "GET" and status not in (200, 302):
            return f"{status} on GET"
    if changed and not outcome.may_change:
        return f"changed state ({changed}) though it should not ({outcome.kind} {outcome.reason})"
    return ""


# --- the tests ---------------------------------------------------------------------------------


def test_every_url_has_an_expectation():
    """A URL without a row in EXPECTATIONS (or a row without a URL) fails: new URLs get
    thought about here."""
    names = [name for name, _, _ in url_patterns()]
    assert None not in names, "every desk URL needs a name"
    assert not set(names) - set(EXPECTATIONS), "URLs without an expectation"
    assert not set(EXPECTATIONS) - set(names), "expectations for URLs that no longer exist"
    for name, _, args in url_patterns():
        spec = EXPECTATIONS[name]
        if args:
            assert spec.resolve is not Expect.resolve, f"{name} takes {args}: say what it names"


ROLES = {
    "anonymous": None,
    "no role": None,
    "A/R rep": Role.REP,
    "Poster": Role.POSTER,
    "Accountant": Role.ACCOUNTANT,
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The world, built once for the module in a transaction rolled back at its end; each
    test's own transaction (and each request's savepoint) nests inside it."""
    fast = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    with django_db_blocker.unblock(), fast, transaction.atomic():
        rep = make_user(Role.REP, "rep")
        poster = make_user(Role.POSTER, "poster")
        w = World(rep, poster)
        assert not ledger_problems(), ledger_problems()
        yield w
        transaction.set_rollback(True)


def user_for(role: str, w: World):
    if role == "anonymous":
        return None
    if role == "no role":
        return make_user(None, "norole")
    if role == "A/R rep":
        return make_user(Role.REP, "rep")
    if role == "Poster":
        return make_user(Role.POSTER, "poster")
    return make_user(Role.ACCOUNTANT, "accountant")


def requests_for(w: World):
    """(url name, Expect, url, target, method, body name, data) for every case."""
    out = []
    for name, route, args in url_patterns():
        if name in AUTH_URLS:
            continue
        spec = EXPECTATIONS[name]
        for case in spec.cases(w):
            kwargs = {k: v for k, v in case.items() if k != "?"}
            url = reverse(name, kwargs=kwargs) + (f"?{case['?']}" if "?" in case else "")
            target = spec.resolve(kwargs)
            out.append((name, spec, url, target, "GET", "", {}))
            out.append((name, spec, url, target, "POST", "empty", {}))
            if target is not None:
                bodies = spec.bodies(w, None if target is True else target)
                for body, data in bodies.items():
                    out.append((name, spec, url, target, "POST", body, data))
                    if "key" in data:  # a re-sent form, or one whose key served elsewhere
                        data = {**data, "key": USED_KEY}
                        out.append((name, spec, url, target, "POST", body + RESENT, data))
    return out


@pytest.fixture
def quiet_request_log():
    """4xx answers are the point here; keep django.request's warnings out of the output
    (server errors are still logged)."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def ask(client, method, url, data, baseline, *, check_books=True):
    """One request in a savepoint that is rolled back: (response, what changed since
    `baseline`, check_ledger problems afterwards if it changed something)."""
    with transaction.atomic():
        response = client.get(url) if method == "GET" else client.post(url, data)
        try:
            changed = differences(baseline, fingerprint())
            problems = ledger_problems() if changed and check_books else []
        except DatabaseError as exc:  # the request left the transaction broken
            changed, problems = f"database error afterwards: {exc}", []
        transaction.set_rollback(True)
    client.cookies.pop("messages", None)
    return response, changed, problems


@pytest.mark.parametrize("role", list(ROLES))
def test_every_url_answers_every_role_in_every_state_as_the_policy_says(
    world, role, quiet_request_log
):
    w = world
    user = user_for(role, w)
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    baseline = fingerprint()
    failures, tally, allowed_no_effect = [], Counter(), []
    fresh = {}  # each target as the view loads it; the world is the same for every request
    books_checked = set()
    _decisions.clear()
    if not hasattr(w, "requests"):
        w.requests = requests_for(w)  # the same for every role: each request is rolled back
    for name, spec, url, target, method, body, data in w.requests:
        if target is not None and target is not True:
            ident = (type(target), target.pk)
            if ident not in fresh:
                fresh[ident] = type(target).objects.get(pk=target.pk)
            target = fresh[ident]
        outcome = expected(user, spec, target, method, data, body)
        # check_ledger once per URL and object (it is the slow part); both POST bodies of a
        # button do the same thing.
        books_key = (name, url)
        response, changed, problems = ask(
            client, method, url, data, baseline, check_books=books_key not in books_checked
        )
        if changed:
            books_checked.add(books_key)
        tally[(name, method)] += 1
        label = "" if target is True else f" [{w.name_of(target)}]"
        what = f"{role} {method} {url}{label}" + (f" body={body}" if body else "")
        wrong = check(outcome, method, response, changed)
        if wrong:
            failures.append(f"{what}: {wrong}")
        if problems:
            failures.append(f"{what}: check_ledger fails afterwards: {problems}")
        if outcome.kind == "allowed" and method == "POST" and body != "empty" and not changed:
            allowed_no_effect.append(f"{what}: {response.status_code} {error_messages(response)}")
    assert fingerprint() == baseline, "a rolled-back request left something behind"
    assert not ledger_problems()
    total = sum(tally.values())
    print(f"\n{role}: {total} requests over {len(tally)} URL × method pairs")
    for line_ in allowed_no_effect:
        print("  allowed by the policy, changed nothing:", line_)
    assert not failures, f"{len(failures)} of {total} requests disagree:\n" + "\n".join(failures)


def test_login_and_logout_answer_every_role(world):
    """The login page is open (a signed-in user is sent on); logout is POST only and ends
    the session."""
    for role in ROLES:
        user = user_for(role, world)
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        response = client.get(reverse("login"))
        assert response.status_code == (200 if user is None else 302), role
        response = client.post(reverse("login"), {})
        assert response.status_code == (200 if user is None else 302), role
        response = client.get(reverse("logout"))
        assert response.status_code == (302 if user is None else 405), role
        response = client.post(reverse("logout"))
        assert response.status_code == 302, role
        assert response["Location"].startswith(reverse("login")), role
        assert client.get(reverse("invoicing:list")).status_code == 302, role


def test_account_pages_answer_every_role(world):
    """Your account and the two-factor steps: anonymous visitors go to the login page; any
    signed-in user, with or without a role, reaches their own account; empty or bad POSTs
    answer with the form (or a redirect), never a 500, and change no books."""
    baseline = fingerprint()
    pages = ["account", "password_change", "password_change_done", "two_factor_setup"]
    for role in ROLES:
        user = user_for(role, world)
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        for name in [*pages, "two_factor_verify", "two_factor_codes"]:
            url = reverse(name)
            response = client.get(url)
            if user is None:
                assert response.status_code == 302, (role, name)
                assert response["Location"].startswith(reverse("login")), (role, name)
                continue
            # No device yet: "Enter your code" and the recovery codes send on to set one up.
            wanted = 302 if name in ("two_factor_verify", "two_factor_codes") else 200
            assert response.status_code == wanted, (role, name, response.status_code)
            for data in ({}, {"code": "x" * 40}, {"code": "12345\x00"}, {"next": "//evil"}):
                response = client.post(url, data)
                assert response.status_code in (200, 302, 405), (role, name, data)
    assert not differences(baseline, fingerprint())
