"""Forms of the invoice editor: a header form and a formset of lines."""

from django import forms
from django.utils import timezone

from customers.models import BillingTerms, Customer
from invoicing.allocator import Allocation
from invoicing.models import CreditReason, DocumentKind, Item, PaymentMethod, TaxProfile
from invoicing.services import LineInput
from ledger.forms import BusinessDateField, MoneyField, QuantityField
from ledger.money import ZERO

# No reason is preselected: a rep who doesn't choose gets asked, rather than a silent "Return".
REASON_CHOICES = [("", "Choose a reason…"), *CreditReason.choices]

LINE_FIELDS = ["item", "description", "quantity", "unit_price", "unit_adjustment", "tax_profile"]


class DocumentForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(is_active=True).order_by("name"),
        empty_label="Choose a customer…",
    )
    date = BusinessDateField(initial=timezone.localdate, what="The document date")
    billing_terms = forms.ChoiceField(
        choices=[("", "Customer's terms")] + list(BillingTerms.choices), required=False
    )
    description = forms.CharField(max_length=255, required=False)
    # The version of the draft the editor loaded (blank on a new document); a save based
    # on an older one is refused (no lost updates).
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, kind=DocumentKind.INVOICE, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == DocumentKind.CREDIT_MEMO:
            self.fields["reason"] = forms.ChoiceField(choices=REASON_CHOICES)
            self.fields["note"] = forms.CharField(
                required=False, widget=forms.Textarea(attrs={"rows": 2})
            )


class LineForm(forms.Form):
    item = forms.ModelChoiceField(queryset=Item.objects.none(), empty_label="Item…")
    description = forms.CharField(max_length=255, required=False)
    quantity = QuantityField()
    unit_price = MoneyField(required=False, help_text="Blank: the item's price")
    unit_adjustment = MoneyField(required=False)
    tax_profile = forms.ModelChoiceField(
        queryset=TaxProfile.objects.none(), required=False, empty_label="Item's tax"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = Item.objects.filter(is_active=True).select_related(
            "default_tax_profile"
        )
        self.fields["tax_profile"].queryset = TaxProfile.objects.filter(is_active=True)

    def clean(self):
        cleaned = super().clean()
        item = cleaned.get("item")
        if item is None:
            return cleaned
        if cleaned.get("unit_price") is None and "unit_price" not in self.errors:
            cleaned["unit_price"] = item.default_unit_price
        if cleaned.get("tax_profile") is None:
            if item.default_tax_profile is None:
                self.add_error("tax_profile", "Choose a tax profile; this item has no default.")
            else:
                cleaned["tax_profile"] = item.default_tax_profile
        if cleaned.get("quantity") == 0:
            self.add_error("quantity", "Enter a quantity other than zero.")
        return cleaned

    def to_line_input(self) -> LineInput:
        data = self.cleaned_data
        return LineInput(
            item=data["item"],
            description=data.get("description") or "",
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            unit_adjustment=data.get("unit_adjustment") or ZERO,
            tax_profile=data["tax_profile"],
        )


class BaseLineFormSet(forms.BaseFormSet):
    def _construct_form(self, i, **kwargs):
        # Every row may be left blank (blank rows are skipped), so the editor can offer an
        # empty row without the browser or the form insisting on filling it in.
        return super()._construct_form(
            i, empty_permitted=True, use_required_attribute=False, **kwargs
        )

    def clean(self):
        if any(self.errors):
            return
        if not self.line_inputs():
            raise forms.ValidationError("Add at least one line.")

    def line_inputs(self) -> list[LineInput]:
        return [
            form.to_line_input()
            for form in self.forms
            if form.has_changed() and not self._should_delete_form(form) and form.cleaned_data
        ]


LineFormSet = forms.formset_factory(LineForm, formset=BaseLineFormSet, extra=0, can_delete=False)


class CreditFromInvoiceForm(forms.Form):
    """Spectra's "Create Credit Memo" from an invoice: each line with what is still
    creditable, prefilled with all of it; the rep lowers quantities or unticks lines.
    Quantities are entered positive; the memo stores them negative."""

    date = BusinessDateField(initial=timezone.localdate, what="The credit memo date")
    reason = forms.ChoiceField(choices=REASON_CHOICES)
    description = forms.CharField(max_length=255, required=False)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # The version of the memo the form loaded (blank on a new memo); see DocumentForm.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, rows, current: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows = rows
        for row in rows:
            pk = row.line.pk
            start = current.get(pk) if current is not None else row.remaining
            self.fields[f"include_{pk}"] = forms.BooleanField(
                required=False, initial=bool(start), label=f"Credit line {row.line.position}"
            )
            self.fields[f"qty_{pk}"] = QuantityField(
                required=False,
                initial=f"{start.normalize():f}" if start else "",
                label=f"Quantity to credit, line {row.line.position}",
            )

    def line_rows(self):
        return [
            (row, self[f"include_{row.line.pk}"], self[f"qty_{row.line.pk}"]) for row in self.rows
        ]

    def clean(self):
        cleaned = super().clean()
        quantities = {}
        for row in self.rows:
            pk = row.line.pk
            if not cleaned.get(f"include_{pk}"):
                continue
            qty = cleaned.get(f"qty_{pk}")
            if f"qty_{pk}" in self.errors:
                continue
            if qty is None or qty == 0:
                self.add_error(f"qty_{pk}", "Enter a quantity to credit, or untick the line.")
            elif qty < 0:
                self.add_error(
                    f"qty_{pk}",
                    "Enter the quantity as a positive number; the memo shows it negative.",
                )
            elif qty > row.remaining:
                self.add_error(
                    f"qty_{pk}",
                    f"Only {row.remaining.normalize():f} can still be credited on this line.",
                )
            else:
                quantities[pk] = qty
        if not self.errors and not quantities:
            raise forms.ValidationError("Tick at least one line and enter a quantity to credit.")
        cleaned["quantities"] = quantities
        return cleaned


class AllocationForm(forms.Form):
    """An "Amount to apply" per counterpart document (open invoices, or credits), with the
    running total against what is available. Apply Credit and Record Payment share it."""

    def __init__(self, *args, counterparts, **kwargs):
        super().__init__(*args, **kwargs)
        self.counterparts = counterparts
        for doc in counterparts:
            self.fields[f"amount_{doc.pk}"] = MoneyField(
                required=False,
                label=f"Amount to apply to {doc.number}",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal",
                        "autocomplete": "off",
                        "class": "amount-input",
                        "placeholder": "0.00",
                    }
                ),
            )

    @property
    def available(self):
        raise NotImplementedError

    def over_available_message(self, total) -> str:
        return f"That's {total:,.2f} in all, more than the {self.available:,.2f} available."

    def clean(self):
        cleaned = super().clean()
        total = ZERO
        for doc in self.counterparts:
            name = f"amount_{doc.pk}"
            amount = cleaned.get(name)
            if amount is None:
                continue
            if amount < 0:
                self.add_error(name, "Enter a positive amount.")
            elif amount > doc.usable:
                self.add_error(name, f"More than {doc.number}'s open {doc.usable:,.2f}.")
            else:
                total += amount
        if total > self.available:
            raise forms.ValidationError(self.over_available_message(total))
        cleaned["total"] = total
        return cleaned

    def _amount(self, doc):
        name = f"amount_{doc.pk}"
        if not self.is_bound or not hasattr(self, "cleaned_data") or name in self.errors:
            return None
        return self.cleaned_data.get(name)

    def rows(self):
        """(document, its input, new open amount or None) per counterpart."""
        out = []
        for doc in self.counterparts:
            amount = self._amount(doc)
            new = None
            if amount is not None:
                new = doc.balance_due - amount if doc.balance_due > 0 else doc.balance_due + amount
            out.append((doc, self[f"amount_{doc.pk}"], new))
        return out

    def applying(self):
        return sum((self._amount(d) or ZERO for d in self.counterparts), ZERO)

    def remaining(self):
        return self.available - self.applying()

    def allocations(self):
        return [
            Allocation(document=d, amount=self._amount(d))
            for d in self.counterparts
            if self._amount(d)
        ]


class ApplyForm(AllocationForm):
    """Apply Credit: amounts from one source document, a date, and a key that makes a
    re-sent form apply once."""

    date = BusinessDateField(what="The application date")
    key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, source, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    @property
    def available(self):
        return self.source.usable

    def over_available_message(self, total) -> str:
        return f"That's {total:,.2f} in all, more than the {self.available:,.2f} open on {self.source.number}."


class PaymentForm(AllocationForm):
    """Record Payment: the money received and how it is allocated to open invoices; what
    isn't allocated stays as the customer's credit (an unapplied payment)."""

    date = BusinessDateField(what="The payment date")
    method = forms.ChoiceField(choices=PaymentMethod.for_payments())
    reference = forms.CharField(
        max_length=60, required=False, help_text="Check or transaction number"
    )
    amount = MoneyField(positive=True)
    memo = forms.CharField(max_length=255, required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    field_order = ["amount", "method", "reference", "date", "memo"]

    @property
    def available(self):
        if not self.is_bound or not hasattr(self, "cleaned_data"):
            return ZERO
        return self.cleaned_data.get("amount") or ZERO

    def over_available_message(self, total) -> str:
        return f"That's {total:,.2f} allocated, more than the {self.available:,.2f} received."


class RefundForm(forms.Form):
    """Payment or Refund → Refund: Refund Method, Refund Amount ("<" fills the open credit)."""

    method = forms.ChoiceField(label="Refund Method")
    amount = MoneyField(positive=True, label="Refund Amount")
    reference = forms.CharField(
        max_length=60, required=False, help_text="Check or transaction number"
    )
    date = BusinessDateField(what="The refund date")
    memo = forms.CharField(max_length=255, required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, open_credit, methods, **kwargs):
        super().__init__(*args, **kwargs)
        self.open_credit = open_credit
        self.fields["method"].choices = methods

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount > self.open_credit:
            raise forms.ValidationError(
                f"That's more than the open credit of {self.open_credit:,.2f}."
            )
        return amount


class DepositForm(forms.Form):
    """Customer Deposit: the same fields as a payment, without an invoice."""

    amount = MoneyField(positive=True)
    method = forms.ChoiceField(choices=PaymentMethod.for_payments())
    reference = forms.CharField(
        max_length=60, required=False, help_text="Check or transaction number"
    )
    date = BusinessDateField(what="The deposit date")
    memo = forms.CharField(max_length=255, required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class ApplyDepositForm(forms.Form):
    """Apply Deposit on an invoice: which deposit, how much (default: the lesser of its
    remainder and the invoice's Balance Due)."""

    deposit = forms.ModelChoiceField(queryset=None, empty_label=None)
    amount = MoneyField(positive=True)
    date = BusinessDateField(what="The application date")
    key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, deposits, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deposit"].queryset = deposits
        self.fields["deposit"].label_from_instance = lambda d: (
            f"{d.number} · {d.date:%m/%d/%Y} · {d.get_method_display()} · left {d.usable:,.2f}"
        )


class EmailDocumentForm(forms.Form):
    """Email a posted document or deposit: To (several addresses, one per line or
    separated by commas), Cc, subject and message; the service checks the addresses."""

    to = forms.CharField(
        label="To",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address per line, or separated by commas.",
    )
    cc = forms.CharField(label="Cc", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    subject = forms.CharField(max_length=255)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
