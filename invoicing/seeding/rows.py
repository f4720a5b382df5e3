"""The seeder's rows, as the services shape them: numbers from the sequences, dates in the
business-date range, audit events, customers, journal entries, documents and their lines,
posting (invoicing.services.documents.posting_legs), voiding (the exact reverse) and
applying (one application per batch)."""

import datetime
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from customers.models import BillingTerms, Customer
from invoicing.models import (
    Application,
    ApplicationBatch,
    Deposit,
    Document,
    DocumentLine,
    DocumentSequence,
    Item,
    TaxProfile,
)
from invoicing.models.choices import ApplicationOrigin, DocumentKind, DocumentStatus, PaymentMethod
from invoicing.pricing import line_amounts
from invoicing.seeding.writer import BulkWriter
from invoicing.services.base import SEQUENCE_PREFIX
from ledger.models import AuditAction, AuditEvent, JournalEntry, JournalLine, LedgerSettings
from ledger.models import SystemRole as R
from ledger.money import CENT, ZERO
from ledger.selectors import system_accounts
from ledger.services import build_legs


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NAMES = _words(
    "Acme Alder Birch Cedar Summit Harbor Granite Juniper Maple Northwind Oakridge Pioneer "
    "Quarry Redwood Silverline Timber Union Valley Willow Yellowstone"
)
TRADES = _words(
    "Printing Supply Photography Studio Schools Foods Outfitters Logistics Clinic Press"
)
FORMS = ("Co.", "LLC", "Inc.", "Group", "& Sons")
CITIES = (("Denver", "CO"), ("Boulder", "CO"), ("Austin", "TX"), ("Portland", "OR"))
MONEY_IN = [m for m, _ in PaymentMethod.for_payments()]
MONEY_OUT = [PaymentMethod.CHECK, PaymentMethod.EFT, PaymentMethod.CARD]


@dataclass
class SeedReport:
    """What `seed` wrote. `documents` counts invoices, credit memos, payments, refunds and
    deposits, in every status."""

    customers: int = 0
    invoices: int = 0
    credit_memos: int = 0
    payments: int = 0
    open_for_one_customer_id: int | None = None
    refunds: int = 0
    deposits: int = 0
    drafts: int = 0
    voids: int = 0
    open_for_one_credit_id: int | None = None
    applications: int = 0
    deposit_applications: int = 0
    entries: int = 0
    journal_lines: int = 0
    seconds: float = 0.0
    audit_events: int = 0

    @property
    def documents(self) -> int:
        return self.invoices + self.credit_memos + self.payments + self.refunds + self.deposits

    def lines(self) -> list[str]:
        out = [
            f"{self.customers:,} customers; {self.documents:,} documents: {self.invoices:,} "
            f"invoices, {self.credit_memos:,} credit memos, {self.payments:,} payments, "
            f"{self.refunds:,} refunds, {self.deposits:,} deposits "
            f"({self.drafts:,} drafts, {self.voids:,} void)",
            f"{self.applications:,} applications, {self.deposit_applications:,} deposit "
            f"applications; {self.entries:,} journal entries, {self.journal_lines:,} lines; "
            f"{self.audit_events:,} audit events",
        ]
        if self.open_for_one_customer_id is not None:
            out.append(
                f"customer {self.open_for_one_customer_id} has the open invoices asked for "
                f"and one open credit (document {self.open_for_one_credit_id})"
            )
        out.append(f"seeded in {self.seconds:.1f} s")
        return out


@dataclass
class _Cust:
    id: int
    name: str
    terms: str


class Rows:
    def __init__(self, *, rng: random.Random, audit: bool, days: int):
        self.rng = rng
        self.audit_on = audit
        self.report = SeedReport()
        self.w = BulkWriter()
        self.now = timezone.now()
        self.today = timezone.localdate()
        closed = LedgerSettings.load().books_closed_through
        from django.conf import settings

        earliest = settings.BUSINESS_DATE_EARLIEST
        if closed is not None:
            earliest = max(earliest, closed + datetime.timedelta(days=1))
        self.first = max(earliest, self.today - datetime.timedelta(days=days))
        self.span = max(0, (self.today - self.first).days)
        if self.first > self.today:
            raise ValueError("The books are closed through today; there is no date to seed.")
        self.accounts = system_accounts(*R.values)
        self.items = [
            i
            for i in Item.objects.filter(is_active=True).select_related(
                "income_account", "credit_account", "default_tax_profile"
            )
            if i.default_unit_price > 0
        ] or list(
            Item.objects.select_related("income_account", "credit_account", "default_tax_profile")
        )
        self.taxes = list(TaxProfile.objects.filter(is_active=True)) or list(
            TaxProfile.objects.all()
        )
        users = get_user_model()
        self.rep = self._user(users, "seed-bench-rep")
        self.poster = self._user(users, "seed-bench-poster")
        self.ct_doc = ContentType.objects.get_for_model(Document).id
        self.ct_dep = ContentType.objects.get_for_model(Deposit).id
        self.ct_entry = ContentType.objects.get_for_model(JournalEntry).id
        self.ct_customer = ContentType.objects.get_for_model(Customer).id
        self.seq: dict[str, DocumentSequence] = {}

    @staticmethod
    def _user(users, username):
        user, created = users.objects.get_or_create(
            username=username, defaults={"is_active": False}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    # --- sequences, dates, audit ---------------------------------------------------------

    def lock_sequences(self) -> None:
        for kind, prefix in SEQUENCE_PREFIX.items():
            DocumentSequence.objects.get_or_create(kind=kind, defaults={"prefix": prefix})
        self.seq = {
            s.kind: s for s in DocumentSequence.objects.select_for_update().order_by("kind")
        }
        self.taken = {kind: s.last_number for kind, s in self.seq.items()}

    def save_sequences(self) -> None:
        for kind, seq in self.seq.items():
            if self.taken[kind] != seq.last_number:
                seq.last_number = self.taken[kind]
                seq.save(update_fields=["last_number"])

    def number(self, kind: str) -> str:
        self.taken[kind] += 1
        return f"{self.seq[kind].prefix}{self.taken[kind]:06d}"

    def date(self) -> datetime.date:
        return self.first + datetime.timedelta(days=self.rng.randint(0, self.span))

    def after(self, date: datetime.date, most: int) -> datetime.date:
        return min(self.today, date + datetime.timedelta(days=self.rng.randint(0, most)))

    def audit(self, action, *, target_type, target_id, ref, amount=None, by=None, **detail):
        if self.audit_on:
            self.w.add(
                AuditEvent,
                at=self.now,
                actor_id=(by or self.rep).id,
                action=action,
                target_type_id=target_type,
                target_id=target_id,
                target_ref=ref[:80],
                amount=amount,
                detail=detail,
            )
            self.report.audit_events += 1

    def doc_audit(self, action, doc: dict, amount=None, by=None, **detail):
        self.audit(
            action,
            target_type=self.ct_doc,
            target_id=doc["id"],
            ref=doc["number"],
            amount=amount,
            by=by,
            **detail,
        )

    # --- rows ------------------------------------------------------------------------------

    def customers(self, n: int) -> list[_Cust]:
        base = Customer.objects.count() + self.report.customers
        made = []
        for i in range(n):
            code = f"SB{base + i + 1:07d}"
            name = f"{self.rng.choice(NAMES)} {self.rng.choice(TRADES)} {self.rng.choice(FORMS)}"
            city, state = self.rng.choice(CITIES)
            terms = self.rng.choice(BillingTerms.values)
            pk = self.w.add(
                Customer,
                code=code,
                name=name,
                billing_contact="Accounts Payable",
                email=f"ap+{code.lower()}@example.com",
                city=city,
                state=state,
                billing_terms=terms,
                created_by_id=self.rep.id,
                updated_by_id=self.rep.id,
            )
            self.audit(
                AuditAction.CUSTOMER_CREATED,
                target_type=self.ct_customer,
                target_id=pk,
                ref=f"{name} ({code})",
            )
            made.append(_Cust(pk, name, terms))
        self.report.customers += n
        return made

    def entry(self, *, date, memo, legs, source_type, source_id, ref, reversal_of=None) -> int:
        """A journal entry and its lines (written in this transaction), audited."""
        pk = self.w.add(
            JournalEntry,
            date=date,
            memo=memo[:255],
            source_type_id=source_type,
            source_id=source_id,
            source_ref=ref,
            reversal_of_id=reversal_of,
            posted_by_id=self.poster.id,
            posted_at=self.now,
        )
        debits = ZERO
        for leg in legs:
            self.w.add(
                JournalLine,
                entry_id=pk,
                account_id=leg.account.id,
                customer_id=leg.customer_id,
                debit=leg.debit,
                credit=leg.credit,
                memo=leg.memo[:255],
            )
            debits += leg.debit
        self.report.entries += 1
        self.report.journal_lines += len(legs)
        self.audit(
            AuditAction.JOURNAL_ENTRY_POSTED,
            target_type=self.ct_entry,
            target_id=pk,
            ref=f"JE-{pk:06d}",
            amount=debits,
            by=self.poster,
            memo=memo,
        )
        return pk

    def _entry_of(self, doc: dict, legs, *, source_type=None, memo=None) -> int:
        doc["_legs"] = legs
        return self.entry(
            date=doc["date"],
            memo=memo or f"{doc['_title']} {doc['number']} — {doc['_cust'].name}",
            legs=legs,
            source_type=source_type or self.ct_doc,
            source_id=doc["id"],
            ref=doc["number"],
        )

    def _posted(self, doc: dict) -> None:
        doc.update(status=DocumentStatus.POSTED, posted_by_id=self.poster.id, posted_at=self.now)

    def _write_doc(self, doc: dict) -> None:
        row = {k: v for k, v in doc.items() if not k.startswith("_")}
        self.w.add(Document, **row)

    def _new_doc(self, kind, cust: _Cust, date, **fields) -> dict:
        doc = {
            "id": self.w.new_id(Document),
            "kind": kind,
            "number": self.number(kind),
            "customer_id": cust.id,
            "date": date,
            "billing_terms": cust.terms,
            "due_date": BillingTerms.due_date(cust.terms, date),
            "created_by_id": self.rep.id,
            "updated_by_id": self.rep.id,
            "created_at": self.now,
            "_cust": cust,
            "_title": DocumentKind(kind).label
            if kind
            in (
                DocumentKind.PAYMENT,
                DocumentKind.REFUND,
            )
            else ("Credit Memo" if kind == DocumentKind.CREDIT_MEMO else "Invoice"),
        }
        doc.update(fields)
        return doc

    def _lines(self, doc: dict, lines: list[dict]) -> None:
        subtotal = sum((line["extended_amount"] for line in lines), ZERO)
        tax = sum((line["tax_amount"] for line in lines), ZERO)
        doc.update(subtotal=subtotal, tax_total=tax, grand_total=subtotal + tax)
        for position, line in enumerate(lines, start=1):
            line.update(document_id=doc["id"], position=position)
            line["id"] = self.w.add(DocumentLine, **line)
        doc["_lines"] = lines

    def _sale_lines(self) -> list[dict]:
        lines = []
        for _ in range(self.rng.choice((1, 1, 2, 2, 3))):
            item = self.rng.choice(self.items)
            profile = item.default_tax_profile or self.rng.choice(self.taxes)
            base = item.default_unit_price or Decimal(100)
            price = (base * Decimal(self.rng.randint(80, 120)) / 100).quantize(CENT)
            quantity = Decimal(self.rng.randint(1, 10))
            amounts = line_amounts(
                quantity=quantity, unit_price=price, unit_adjustment=ZERO, tax_rate=profile.rate
            )
            lines.append(
                {
                    "item_id": item.id,
                    "_item": item,
                    "description": item.description,
                    "quantity": quantity,
                    "unit_price": price,
                    "unit_adjustment": ZERO,
                    "tax_profile_id": profile.id,
                    "tax_rate": profile.rate,
                    "extended_amount": amounts.extended,
                    "tax_amount": amounts.tax,
                }
            )
        return lines

    def _billing_legs(self, doc: dict):
        """posting_legs of an invoice or credit memo."""
        a = self.accounts
        memo = f"{doc['_title']} {doc['number']}"
        rows = [(a[R.RECEIVABLE], doc["customer_id"], doc["grand_total"])]
        for line in doc["_lines"]:
            item = line["_item"]
            if doc["kind"] == DocumentKind.CREDIT_MEMO:
                account = item.credit_account or a[R.SALES_RETURNS]
            else:
                account = item.income_account
            rows.append((account, None, -line["extended_amount"]))
            if line["tax_amount"]:
                rows.append((a[R.SALES_TAX], None, -line["tax_amount"]))
        return build_legs(rows, memo=memo)

    def _transfer(self, debit, credit, amount, customer_id, memo):
        """transfer_legs: Dr `debit`'s account, Cr `credit`'s, customer on A/R and Deposits."""
        named = {R.RECEIVABLE, R.DEPOSITS}
        rows = [
            (self.accounts[role], customer_id if role in named else None, signed)
            for role, signed in ((debit, amount), (credit, -amount))
        ]
        return build_legs(rows, memo=memo)

    def _void(self, doc: dict, date) -> None:
        """document_void: the exact reverse of the posting entry, line by line."""
        legs = build_legs(
            (
                (leg.account, leg.customer_id, leg.credit - leg.debit, leg.memo)
                for leg in doc["_legs"]
            ),
            merge=False,
        )
        memo = f"Void of {doc['_title']} {doc['number']}"
        reversal = self.entry(
            date=date,
            memo=memo,
            legs=legs,
            source_type=self.ct_doc,
            source_id=doc["id"],
            ref=doc["number"],
            reversal_of=doc["posting_entry_id"],
        )
        doc.update(
            status=DocumentStatus.VOID,
            void_entry_id=reversal,
            voided_by_id=self.poster.id,
            voided_at=self.now,
            void_date=date,
            updated_by_id=self.poster.id,
            balance_due=ZERO,
        )
        self.doc_audit(
            AuditAction(f"{doc['_title'].lower()} voided"),
            doc,
            doc["grand_total"],
            by=self.poster,
            journal_entry=reversal,
        )
        self.report.voids += 1

    def _post(self, doc: dict) -> None:
        """document_post of a built invoice or credit memo, or of a payment or refund."""
        if doc["kind"] in (DocumentKind.PAYMENT, DocumentKind.REFUND):
            role = PaymentMethod.cash_account_role(doc["method"])
            legs = self._transfer(
                R.RECEIVABLE,
                role,
                doc["grand_total"],
                doc["customer_id"],
                f"{doc['_title']} {doc['number']}",
            )
        else:
            legs = self._billing_legs(doc)
        doc["posting_entry_id"] = self._entry_of(doc, legs)
        self._posted(doc)
        doc["balance_due"] = doc["grand_total"]
        verb = "released" if doc["kind"] == DocumentKind.REFUND else "posted"
        self.doc_audit(
            AuditAction(f"{doc['_title'].lower()} {verb}"),
            doc,
            doc["grand_total"],
            by=self.poster,
            journal_entry=doc["posting_entry_id"],
        )

    def _apply(self, target: dict, source: dict, amount: Decimal, date, origin=None) -> None:
        """_apply_locked: one application in its own batch; both open amounts move."""
        origin = origin or ApplicationOrigin.MANUAL
        batch = self.w.add(
            ApplicationBatch, key=uuid.uuid4().hex, created_by_id=self.rep.id, created_at=self.now
        )
        app = {
            "customer_id": target["customer_id"],
            "target_id": target["id"],
            "source_id": source["id"],
            "amount": amount,
            "date": date,
            "origin": origin,
            "batch_id": batch,
            "created_by_id": self.rep.id,
            "created_at": self.now,
        }
        target["balance_due"] -= amount
        source["balance_due"] += amount
        self.report.applications += 1
        self.doc_audit(
            AuditAction.CREDIT_APPLIED,
            source,
            amount,
            date=date.isoformat(),
            origin=origin,
            to={target["number"]: str(amount)},
        )
        if origin == ApplicationOrigin.MANUAL and self.rng.random() < 0.04:
            # credit_unapply: the row stays as history, both amounts are restored.
            removed = self.after(date, 10)
            app.update(removed_on=removed, removed_by_id=self.rep.id, removed_at=self.now)
            target["balance_due"] += amount
            source["balance_due"] -= amount
            self.doc_audit(AuditAction.CREDIT_UNAPPLIED, source, amount, invoice=target["number"])
        self.w.add(Application, **app)
