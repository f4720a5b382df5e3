"""Payments: the Payments & Refunds list, Record Payment (allocated with the Apply Credit
rows), and Spectra's "Payment or Refund" on a document."""

import uuid

from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone

from config.listing import table_page
from invoicing import selectors, services
from invoicing.filters import PaymentFilter
from invoicing.forms import PaymentForm
from invoicing.policies import Act, may_post, require_drafting
from invoicing.tables import PaymentTable
from invoicing.views.applications import (
    _fill_or_clear,
    _picker_state,
    _show_picker,
    _submit_allocations,
)
from invoicing.views.base import (
    _answer_resent,
    _for_customer,
    _form_page,
    _get_document,
    _refused,
    _resent,
    _submit,
)
from invoicing.views.refunds import _pending_refund, _refund_form

# Payments & Refunds: money in and out; "Pending refunds" is a filter for Posters.
payment_list_view = table_page(
    PaymentTable,
    PaymentFilter,
    "invoicing/payment_list.html",
    selectors.money_documents,
    export_name="payments",
)


@_for_customer()
def payment_record_view(request, customer):
    """Record Payment for a customer and allocate it with the Apply Credit rows."""
    counterparts = selectors.open_invoices(customer)
    data = request.POST.copy() if request.method == "POST" else None
    action, query, page = _picker_state(request, data)
    filled = None
    if action in ("fill", "clear"):
        probe = PaymentForm(data, counterparts=[])
        probe.is_valid()
        filled = _fill_or_clear(data, action, probe.available, counterparts)
    form = PaymentForm(
        data,
        counterparts=counterparts,
        initial={"date": timezone.localdate(), "key": uuid.uuid4().hex, "method": "check"},
    )
    context = {
        "customer": customer,
        "form": form,
        "oob": False,
        "from_credit": True,
        "available_label": "Payment amount",
        "remaining_label": "Left as credit (unapplied)",
    }
    fragment = _show_picker(request, form, context, data, action, query, page, filled)
    if fragment is not None:
        return fragment
    if data is not None and action == "save" and form.is_valid():
        payment = _save_payment(
            request,
            form,
            services.payment_record,
            customer=customer,
            allocations=form.allocations(),
        )
        if payment is not None:
            return redirect(payment)
    return _form_page(request, "invoicing/payment_form.html", context, sent=action == "save")


def _save_payment(request, form, service, **target):
    """Call a payment service with the form's fields and `target` (the customer and
    allocations, or the document paid); errors go back onto the form."""
    data = form.cleaned_data
    return _submit_allocations(
        request,
        form,
        lambda: service(
            date=data["date"],
            method=data["method"],
            amount=data["amount"],
            reference=data["reference"],
            memo=data.get("memo", ""),
            key=data["key"],
            by=request.user,
            **target,
        ),
        lambda payment: (
            f"Payment {payment.number} of {payment.amount:,.2f} recorded"
            + (" — a Poster posts it." if not may_post(request.user) else ".")
        ),
    )


def payment_or_refund_view(request, pk):
    """Spectra's "Payment or Refund" on a document: type Payment or Refund."""
    document = _get_document(pk)
    credit, open_credit = services.refund_source(document)
    kind = (
        request.POST.get("type") or request.GET.get("type") or ("refund" if credit else "payment")
    )
    if kind not in ("refund", "payment"):
        raise Http404("Choose Payment or Refund.")
    action = request.POST.get("action", "save") if request.method == "POST" else ""
    resent = action == "save" and _resent(request)
    if resent:
        # A double click or a re-sent form: answer as the first one did (its form would
        # now fail the open-credit check the first one used up); nothing more is done.
        answer = _answer_resent(
            request,
            "refund_prepare" if kind == "refund" else "payment_record",
            _pending_refund
            if kind == "refund"
            else lambda first: f"Payment {first.number} of {first.amount:,.2f} recorded.",
            document,
            quiet=True,
        )
        if answer is not None:
            return answer
    # The policy first: a 404 for a document that takes no payment or refund, whoever asks.
    refused = None if resent else _refused(request, Act(kind), document)
    if refused is not None:
        return refused
    require_drafting(request.user)
    if kind == "refund":
        form, save = _refund_form(request, open_credit, services.refund_methods(store_credit=True))
        prepare = services.refund_prepare
        made = (
            save
            and form.is_valid()
            and _submit(
                request,
                form,
                lambda: prepare(document=document, by=request.user, **form.cleaned_data),
                _pending_refund,
            )
        )
    else:
        form = PaymentForm(
            request.POST if action == "save" else None,
            counterparts=[],
            initial={"date": timezone.localdate(), "key": uuid.uuid4().hex, "method": "check"},
        )
        made = (
            action == "save"
            and form.is_valid()
            and _save_payment(request, form, services.payment_on_document, document=document)
        )
    if made:
        return redirect(document)
    return _form_page(
        request,
        "invoicing/payment_or_refund.html",
        {
            "document": document,
            "form": form,
            "kind": kind,
            "open_credit": open_credit,
            "credit": credit,
        },
        sent=action == "save",
    )
