from django import forms

from customers.models import Customer
from customers.services import EDITABLE_FIELDS


class CustomerForm(forms.ModelForm):
    # The version of the customer the form loaded (blank on a new one); a save based on an
    # older one is refused (no lost updates). Not a model field of the form: the service
    # checks it.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    # The page's sections, in order: (legend, field names). A section without a legend
    # spans the whole width of the form.
    fieldsets = [
        ("Customer", ["code", "name", "billing_terms", "is_active"]),
        ("Billing contact", ["billing_contact", "email", "phone", "delivery"]),
        ("Billing address", ["address_line1", "address_line2", "city", "state", "postal_code"]),
        ("", ["notes"]),
    ]

    class Meta:
        model = Customer
        fields = EDITABLE_FIELDS
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "code": forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
        }

    def sections(self):
        """The fieldsets with their bound fields, for the template."""
        return [(legend, [self[name] for name in names]) for legend, names in self.fieldsets]

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper()

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the customer's name.")
        return name
