"""Forms of the invoice editor: a header form and a formset of lines."""

from django import forms
from django.utils import timezone

from customers.models import BillingTerms, Customer
from invoicing.models import CreditReason, DocumentKind, Item, TaxProfile
from invoicing.services import LineInput
from ledger.forms import MoneyField, QuantityField
from ledger.money import ZERO

LINE_FIELDS = ["item", "description", "quantity", "unit_price", "unit_adjustment", "tax_profile"]


class DocumentForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(is_active=True).order_by("name"),
        empty_label="Choose a customer…",
    )
    date = forms.DateField(
        initial=timezone.localdate, widget=forms.DateInput(attrs={"type": "date"})
    )
    billing_terms = forms.ChoiceField(
        choices=[("", "Customer's terms")] + list(BillingTerms.choices), required=False
    )
    description = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, kind=DocumentKind.INVOICE, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind == DocumentKind.CREDIT_MEMO:
            self.fields["reason"] = forms.ChoiceField(choices=CreditReason.choices)
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
