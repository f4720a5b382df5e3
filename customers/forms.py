from django import forms

from customers.models import Customer
from customers.services import EDITABLE_FIELDS


class CustomerForm(forms.ModelForm):
    # The version of the customer the form loaded (blank on a new one); a save based on an
    # older one is refused (no lost updates). Not a model field of the form: the service
    # checks it.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Customer
        fields = EDITABLE_FIELDS
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "code": forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
        }

    def clean_code(self):
        return self.cleaned_data["code"].strip().upper()

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter the customer's name.")
        return name
