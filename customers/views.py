"""Create and edit a customer. The list and the record show A/R: invoicing/views/customers.py."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from config.roles import Action, require
from customers import selectors, services
from customers.forms import CustomerForm
from customers.models import Customer
from ledger.idempotency import first_result, was_used


def _save(request, form, customer=None):
    fields = dict(form.cleaned_data)
    version = fields.pop("version", None)
    try:
        if customer is None:
            return services.customer_create(
                by=request.user, key=request.POST.get("key", ""), **fields
            )
        return services.customer_update(
            customer=customer, by=request.user, expected_version=version, **fields
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return None


def customer_create_view(request):
    require(request.user, Action.EDIT_CUSTOMERS)
    if request.method == "POST" and was_used(request.POST.get("key", "")):
        # A double click or a re-sent form: answer with the customer the first one made
        # (the form would now say its code exists); nothing more is done.
        try:
            first = first_result(request.POST["key"], scope="customer_create", by=request.user)
        except ValidationError:
            first = None  # the key was used for something else: the service says so
        if first is not None:
            messages.success(request, f"Customer {first.code} created.")
            return redirect(first)
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = _save(request, form)
        if customer is not None:
            messages.success(request, f"Customer {customer.code} created.")
            return redirect(customer)
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "customers/customer_form.html", {"form": form}, status=status)


def customer_edit_view(request, pk):
    require(request.user, Action.EDIT_CUSTOMERS)
    try:
        customer = selectors.customer_get(pk)
    except Customer.DoesNotExist:
        raise Http404("No such customer.") from None
    form = CustomerForm(
        request.POST or None, instance=customer, initial={"version": customer.version}
    )
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, customer)
        if saved is not None:
            messages.success(request, f"Customer {saved.code} saved.")
            return redirect(saved)
    # Someone saved the customer since this form loaded: keep the input, offer a reload.
    stale = any(e.code == "stale" for e in form.non_field_errors().as_data())
    status = (409 if stale else 400) if request.method == "POST" else 200
    return TemplateResponse(
        request,
        "customers/customer_form.html",
        {"form": form, "customer": customer, "stale": stale},
        status=status,
    )
