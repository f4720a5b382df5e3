"""The customer autocomplete: a text field for a customer's code or name that any form or
filter can use (`CustomerSearchInput`).

Without JavaScript it is a plain text field: the form is submitted with what was typed
and the reader (`customers.selectors.customer_match_q`) matches a code or a name. With
htmx, typing asks `customers:search` for up to 20 suggestions, shown as a listbox under
the field (static/js/desk.js makes it keyboard-usable: arrows, Enter, Escape); choosing
one puts the customer's code in the field and fires `change`, which filters a listing.
"""

from django import forms
from django.template import loader
from django.urls import reverse


class CustomerSearchInput(forms.TextInput):
    input_type = "search"
    template_name = "customers/_customer_search.html"

    def __init__(self, attrs=None):
        super().__init__({"placeholder": "Code or name", "autocomplete": "off", **(attrs or {})})

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["search_url"] = f"{reverse('customers:search')}?field={name}"
        return context

    def _render(self, template_name, context, renderer=None):
        # The project's templates (not the form renderer's), where the partial lives.
        return loader.render_to_string(template_name, context)
