"""Create and edit a customer, and the customer autocomplete's suggestions. The list and
the record show A/R: invoicing/views/customers.py."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

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


@require_GET
def customer_search_view(request):
    """Suggestions for the customer autocomplete (customers/widgets.py): the customers whose
    code or name matches the text, at most SEARCH_LIMIT. The text is `?q=`, or the field
    named by `?field=` (htmx sends the input under its own name)."""
    require(request.user, Action.VIEW)
    field = request.GET.get("field", "q")
    text = request.GET.get(field) or request.GET.get("q", "")
    rows = selectors.customer_search(text[:100])
    target = request.htmx.target if request.htmx else None
    context = {
        "customers": rows[: selectors.SEARCH_LIMIT],
        "more": len(rows) > selectors.SEARCH_LIMIT,
        "text": text.strip(),
        "list_id": target or "customer-options",
    }
    return TemplateResponse(request, "customers/_customer_options.html", context)


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
