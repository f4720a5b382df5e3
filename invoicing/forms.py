"""Forms of the invoice editor: a header form and a formset of lines."""

import json
import re
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from customers.models import BillingTerms, Customer
from invoicing.allocator import Allocation
from invoicing.models import CreditReason, DocumentKind, Item, PaymentMethod, TaxProfile
from invoicing.selectors.picker import open_items_page
from invoicing.services import LineInput
from ledger.forms import BusinessDateField, MoneyField, QuantityField
from ledger.money import ZERO

# The picker's rows: one "Amount to apply" per open item, submitted as amount_<pk>.
AMOUNT_NAME = re.compile(r"amount_(\d{1,18})\Z")
AMOUNT_PK = re.compile(r"\d{1,18}\Z")
PICKER_PAGE_SIZE = 25

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


@dataclass(frozen=True)
class AllocationRow:
    """One row of the picker on screen."""

    doc: object
    value: str
    errors: list[str]
    new_balance: Decimal | None


class AllocationForm(forms.Form):
    """An "Amount to apply" per counterpart document (open invoices, or credits), with the
    running total against what is available. Apply Credit and Record Payment share it.

    A customer may have thousands of open items, so there is no form field per row: the
    amounts are the submitted `amount_<pk>` values, and only the rows with an amount are
    read and checked (one query). The table shows one page of the counterparts
    (`show`); amounts typed on other pages travel with the form as hidden inputs
    (`carried`) and count in the totals like the rows on screen."""

    page_size = PICKER_PAGE_SIZE

    def __init__(self, *args, counterparts, **kwargs):
        super().__init__(*args, **kwargs)
        # The ordered queryset of every open counterpart (oldest due first); never read whole.
        self.counterparts = counterparts
        self.typed = self._typed_amounts()
        self.amounts: dict[int, Decimal] = {}
        self.documents: dict[int, object] = {}
        self.gone: list[str] = []
        self.query = ""
        self.page_docs: list = []
        self.page_number = 1
        self.count = 0
        self.filled = None

    def _typed_amounts(self) -> dict[int, str]:
        """{pk: what was typed}: the amounts carried from other pages (one hidden field,
        `carried`, so thousands of filled rows stay within Django's limit on the number of
        fields), then every `amount_<pk>` on screen, which wins (blank clears it)."""
        if not self.is_bound:
            return {}
        typed = {}
        try:
            carried = json.loads(self.data.get("carried") or "{}")
        except ValueError:
            carried = {}
        if isinstance(carried, dict):
            for key, raw in carried.items():
                if AMOUNT_PK.match(str(key)) and isinstance(raw, str) and raw.strip():
                    typed[int(key)] = raw.strip()
        for name in self.data:
            match = AMOUNT_NAME.match(name)
            if match:
                raw = (self.data.get(name) or "").strip()
                if raw:
                    typed[int(match[1])] = raw
                else:
                    typed.pop(int(match[1]), None)
        return typed

    @property
    def available(self):
        raise NotImplementedError

    def over_available_message(self, total) -> str:
        return f"That's {total:,.2f} in all, more than the {self.available:,.2f} available."

    def add_error(self, field, error):
        """Errors of `amount_<pk>` (from the checks here or from the service) are kept
        under that name, to show next to their row wherever it is; the rest as usual."""
        if field is None or AMOUNT_NAME.match(field) is None:
            return super().add_error(field, error)
        if not isinstance(error, ValidationError):
            error = ValidationError(error)
        self._errors.setdefault(field, self.error_class()).extend(error.error_list)
        return None

    @property
    def row_errors(self) -> dict[int, list[str]]:
        if not self.is_bound or self._errors is None:
            return {}
        return {
            int(match[1]): [str(e) for e in errors]
            for name, errors in self._errors.items()
            if (match := AMOUNT_NAME.match(name))
        }

    def _typed_documents(self) -> dict:
        if not self.typed:
            return {}
        if isinstance(self.counterparts, list):
            return {d.pk: d for d in self.counterparts if d.pk in self.typed}
        return {d.pk: d for d in self.counterparts.filter(pk__in=list(self.typed))}

    def clean(self):
        cleaned = super().clean()
        self.documents = self._typed_documents()
        missing = [pk for pk in self.typed if pk not in self.documents]
        if missing and not isinstance(self.counterparts, list):
            # Typed on a row that is no longer open (applied, paid or voided meanwhile):
            # refused once, and not carried on.
            numbers = self.counterparts.model.objects.filter(pk__in=missing).values_list(
                "number", flat=True
            )
            self.gone = sorted(numbers)
            for number in self.gone:
                self.add_error(
                    None, f"{number} is no longer open; its amount was taken off. Check the total."
                )
        field = MoneyField(required=False)
        total = ZERO
        for pk, doc in self.documents.items():
            name = f"amount_{pk}"
            try:
                amount = field.clean(self.typed[pk])
            except ValidationError as exc:
                self.add_error(name, exc)
                continue
            if amount is None:
                continue
            if amount < 0:
                self.add_error(name, "Enter a positive amount.")
            elif amount > doc.usable:
                self.add_error(name, f"More than {doc.number}'s open {doc.usable:,.2f}.")
            else:
                self.amounts[pk] = amount
                total += amount
        if total > self.available:
            raise ValidationError(self.over_available_message(total))
        cleaned["total"] = total
        return cleaned

    # --- the page on screen ------------------------------------------------------------

    def show(self, *, query: str = "", page: int = 1) -> None:
        """Put one page of the counterparts matching `query` on screen (one or two queries)."""
        self.query = query
        if isinstance(self.counterparts, list):
            return
        self.page_number, self.page_docs, self.count = open_items_page(
            self.counterparts, query, page=max(page, 1), size=self.page_size
        )

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.page_size))

    @property
    def first_shown(self) -> int:
        return (self.page_number - 1) * self.page_size + 1 if self.count else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.page_docs) - 1 if self.page_docs else 0

    def pages(self) -> list[int | None]:
        """Page numbers for the pager: the first, the last and two around this one
        (None: a gap)."""
        near = {1, self.num_pages, *range(self.page_number - 2, self.page_number + 3)}
        out, previous = [], 0
        for number in sorted(n for n in near if 1 <= n <= self.num_pages):
            if number > previous + 1:
                out.append(None)
            out.append(number)
            previous = number
        return out

    def _new_balance(self, doc, pk):
        amount = self.amounts.get(pk)
        if amount is None:
            return None
        return doc.balance_due - amount if doc.balance_due > 0 else doc.balance_due + amount

    def rows(self) -> list[AllocationRow]:
        """The rows on screen: each document with what was typed, its errors and its new
        open amount (None while nothing valid is typed)."""
        errors = self.row_errors
        return [
            AllocationRow(
                doc=doc,
                value=self.typed.get(doc.pk, ""),
                errors=errors.get(doc.pk, []),
                new_balance=self._new_balance(doc, doc.pk),
            )
            for doc in self.page_docs
        ]

    def carried(self) -> dict[int, str]:
        """{pk: typed} of amounts on rows not on screen (rows no longer open dropped)."""
        shown = {doc.pk for doc in self.page_docs}
        checked = hasattr(self, "cleaned_data")
        return {
            pk: raw
            for pk, raw in self.typed.items()
            if pk not in shown and (pk in self.documents or not checked)
        }

    def carried_json(self) -> str:
        """`carried` as the value of the one hidden field that takes it to the next request."""
        return json.dumps(
            {str(pk): raw for pk, raw in self.carried().items()}, separators=(",", ":")
        )

    def other_page_errors(self) -> list[tuple[object, list[str]]]:
        """(document, errors) of rows with an error that are not on screen."""
        shown = {doc.pk for doc in self.page_docs}
        return [
            (self.documents[pk], errors)
            for pk, errors in self.row_errors.items()
            if pk not in shown and pk in self.documents
        ]

    def off_page_count(self) -> int:
        shown = {doc.pk for doc in self.page_docs}
        return sum(1 for pk in self.amounts if pk not in shown and self.amounts[pk])

    def typed_count(self) -> int:
        return sum(1 for amount in self.amounts.values() if amount)

    def applying(self):
        return sum(self.amounts.values(), ZERO)

    def remaining(self):
        return self.available - self.applying()

    def allocations(self):
        return [
            Allocation(document=self.documents[pk], amount=amount)
            for pk, amount in self.amounts.items()
            if amount
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
