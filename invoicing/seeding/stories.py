"""The seeder's stories: what happens to an invoice (drafted, cancelled, voided, or posted
and then paid by a deposit, a credit memo, a payment, a refund), and the picker's customer
with many open invoices."""

import datetime
from decimal import Decimal

from customers.models import BillingTerms
from invoicing.models import (
    ApplicationOrigin,
    CreditReason,
    Deposit,
    DepositApplication,
    DocumentKind,
    DocumentStatus,
    PaymentMethod,
)
from invoicing.pricing import credit_line_amounts
from invoicing.seeding.rows import MONEY_IN, MONEY_OUT, Rows, _Cust
from ledger.models import AuditAction
from ledger.models import SystemRole as R
from ledger.money import CENT, ZERO


class Seeder(Rows):
    """The rows, put together into what happens to documents."""

    def invoice_story(self, cust: _Cust) -> None:
        """One invoice and what happens to it: a draft, a cancelled draft, a void, or posted
        and then perhaps a deposit applied, a credit memo from it, a payment, a refund."""
        rng = self.rng
        date = self.date()
        inv = self._new_doc(DocumentKind.INVOICE, cust, date, description="")
        self._lines(inv, self._sale_lines())
        self.report.invoices += 1
        self.doc_audit(AuditAction.INVOICE_CREATED, inv, inv["grand_total"])
        roll = rng.random()
        if roll < 0.05:
            self.report.drafts += 1
        elif roll < 0.07:
            inv.update(
                status=DocumentStatus.VOID,
                voided_by_id=self.rep.id,
                voided_at=self.now,
                void_date=self.today,
            )
            self.doc_audit(AuditAction.INVOICE_DRAFT_CANCELLED, inv, inv["grand_total"])
        else:
            self._post(inv)
            if roll < 0.10:
                self._void(inv, self.after(date, 20))
            else:
                self._follow_ups(inv)
        self._write_doc(inv)

    def _follow_ups(self, inv: dict) -> None:
        rng = self.rng
        if rng.random() < 0.03:
            self._deposit_for(inv)
        if rng.random() < 0.08:
            self._credit_memo_for(inv)
        if inv["balance_due"] > 0 and rng.random() < 0.6:
            self._payment_for(inv)

    def _deposit_for(self, inv: dict) -> None:
        """deposit_record + deposit_post, then (mostly) deposit_apply to the invoice."""
        cust = inv["_cust"]
        date = max(self.first, inv["date"] - datetime.timedelta(days=self.rng.randint(0, 15)))
        amount = (inv["grand_total"] * Decimal(self.rng.randint(20, 120)) / 100).quantize(CENT)
        amount = max(amount, CENT)
        method = self.rng.choice(MONEY_IN)
        number = self.number(DocumentKind.DEPOSIT)
        dep = {
            "id": self.w.new_id(Deposit),
            "number": number,
            "customer_id": cust.id,
            "date": date,
            "amount": amount,
            "method": method,
            "reference": str(self.rng.randint(1000, 99999)) if method != "cash" else "",
            "memo": "",
            "created_by_id": self.rep.id,
            "created_at": self.now,
        }
        self.report.deposits += 1
        ref = {"target_type": self.ct_dep, "target_id": dep["id"], "ref": number}
        self.audit(AuditAction.DEPOSIT_RECORDED, amount=amount, **ref)
        legs = self._transfer(
            PaymentMethod.cash_account_role(method),
            R.DEPOSITS,
            amount,
            cust.id,
            f"Customer Deposit {number}",
        )
        dep["posting_entry_id"] = self.entry(
            date=date,
            memo=f"Customer Deposit {number} — {cust.name}",
            legs=legs,
            source_type=self.ct_dep,
            source_id=dep["id"],
            ref=number,
        )
        dep.update(
            status=DocumentStatus.POSTED,
            posted_by_id=self.poster.id,
            posted_at=self.now,
            remaining=amount,
        )
        self.audit(AuditAction.DEPOSIT_POSTED, amount=amount, by=self.poster, **ref)
        if self.rng.random() < 0.7:
            applied = min(amount, inv["balance_due"])
            on = self.after(max(date, inv["date"]), 5)
            memo = f"Deposit {number} → {inv['number']}"
            entry = self.entry(
                date=on,
                memo=f"Deposit {number} applied to {inv['number']}",
                legs=self._transfer(R.DEPOSITS, R.RECEIVABLE, applied, cust.id, memo),
                source_type=self.ct_dep,
                source_id=dep["id"],
                ref=number,
            )
            self.w.add(
                DepositApplication,
                deposit_id=dep["id"],
                invoice_id=inv["id"],
                amount=applied,
                date=on,
                entry_id=entry,
                created_by_id=self.rep.id,
                created_at=self.now,
            )
            dep["remaining"] -= applied
            inv["balance_due"] -= applied
            self.report.deposit_applications += 1
            self.doc_audit(AuditAction.DEPOSIT_APPLIED, inv, applied, deposit=number)
        self.w.add(Deposit, **dep)

    def _credit_memo_for(self, inv: dict) -> None:
        """credit_memo_create_from_invoice of part of one line, posted and mostly applied."""
        rng = self.rng
        src = rng.choice(inv["_lines"])
        quantity = Decimal(rng.randint(1, int(src["quantity"])))
        amounts = credit_line_amounts(
            quantity=quantity,
            unit_price=src["unit_price"],
            unit_adjustment=src["unit_adjustment"],
            tax_rate=src["tax_rate"],
            remaining_extended=src["extended_amount"],
            remaining_tax=src["tax_amount"],
            takes_last=quantity == src["quantity"],
        )
        if amounts.extended + amounts.tax >= 0:
            return
        date = self.after(inv["date"], 20)
        cm = self._new_doc(
            DocumentKind.CREDIT_MEMO,
            inv["_cust"],
            date,
            billing_terms=inv["billing_terms"],
            due_date=BillingTerms.due_date(inv["billing_terms"], date),
            description=f"Credit for {inv['number']}",
            source_invoice_id=inv["id"],
            reason=rng.choice(CreditReason.values),
        )
        line = {k: v for k, v in src.items() if k not in ("id", "document_id", "position")}
        line.update(
            quantity=-quantity,
            source_line_id=src["id"],
            extended_amount=amounts.extended,
            tax_amount=amounts.tax,
        )
        self._lines(cm, [line])
        self.report.credit_memos += 1
        self.doc_audit(AuditAction.CREDIT_MEMO_CREATED, cm, cm["grand_total"])
        if rng.random() < 0.1:
            self.report.drafts += 1
        else:
            self._post(cm)
            if inv["balance_due"] > 0 and rng.random() < 0.7:
                amount = min(-cm["balance_due"], inv["balance_due"])
                self._apply(inv, cm, amount, max(inv["date"], cm["date"]))
        self._write_doc(cm)

    def _money_doc(self, kind, cust: _Cust, date, amount: Decimal, method, **extra) -> dict:
        """_money_document: a payment (negative) or a refund (positive), audited."""
        sign = -1 if kind == DocumentKind.PAYMENT else 1
        reference = str(self.rng.randint(1000, 99999)) if method != PaymentMethod.CASH else ""
        label = PaymentMethod(method).label
        doc = self._new_doc(
            kind,
            cust,
            date,
            due_date=date,
            description=f"{DocumentKind(kind).label} by {label}"
            + (f" #{reference}" if reference else ""),
            method=method,
            reference=reference,
            subtotal=sign * amount,
            grand_total=sign * amount,
            **extra,
        )
        verb = "recorded" if sign < 0 else "prepared"
        self.doc_audit(
            AuditAction(f"{doc['_title'].lower()} {verb}"),
            doc,
            amount,
            method=method,
            reference=reference,
        )
        return doc

    def _payment_for(self, inv: dict) -> None:
        """payment_record + document_post, applied by Apply Credit; an overpayment's rest
        may be refunded (released, or still pending)."""
        rng = self.rng
        open_ = inv["balance_due"]
        roll = rng.random()
        if roll < 0.6:
            amount = open_
        elif roll < 0.85:
            amount = max(CENT, (open_ * Decimal(rng.randint(30, 90)) / 100).quantize(CENT))
        else:
            amount = open_ + Decimal(rng.randint(100, 20000)) / 100
        date = self.after(inv["date"], 45)
        pay = self._money_doc(
            DocumentKind.PAYMENT, inv["_cust"], date, amount, rng.choice(MONEY_IN)
        )
        self.report.payments += 1
        self._post(pay)
        roll = rng.random()
        if roll < 0.02:
            self._void(pay, self.after(date, 10))  # voided before anything was applied
        elif roll < 0.07:
            pass  # left as the customer's credit
        else:
            self._apply(inv, pay, min(amount, open_), date)
            left = -pay["balance_due"]
            if left > 0 and rng.random() < 0.5:
                self._refund(pay, left)
        self._write_doc(pay)

    def _refund(self, credit: dict, amount: Decimal) -> None:
        """refund_prepare (reserving), then mostly refund_release (posted, applied)."""
        date = self.after(credit["date"], 10)
        refund = self._money_doc(
            DocumentKind.REFUND,
            credit["_cust"],
            date,
            amount,
            self.rng.choice(MONEY_OUT),
            refund_of_id=credit["id"],
        )
        self.report.refunds += 1
        if self.rng.random() < 0.15:
            credit["reserved"] = credit.get("reserved", ZERO) + amount  # pending
            self.report.drafts += 1
        else:
            self._post(refund)
            self._apply(refund, credit, amount, date, origin=ApplicationOrigin.REFUND)
        self._write_doc(refund)

    def open_invoice(self, cust: _Cust) -> None:
        """A posted invoice nothing is applied to (the picker's customer)."""
        inv = self._new_doc(DocumentKind.INVOICE, cust, self.date())
        self._lines(inv, self._sale_lines())
        self.report.invoices += 1
        self.doc_audit(AuditAction.INVOICE_CREATED, inv, inv["grand_total"])
        self._post(inv)
        self._write_doc(inv)

    def open_credit(self, cust: _Cust) -> int:
        """An unapplied posted payment of 1,000.00: a credit to apply to the open invoices."""
        pay = self._money_doc(
            DocumentKind.PAYMENT, cust, self.today, Decimal("1000.00"), PaymentMethod.CHECK
        )
        self.report.payments += 1
        self._post(pay)
        self._write_doc(pay)
        return pay["id"]

    def flush(self) -> None:
        self.w.flush()
