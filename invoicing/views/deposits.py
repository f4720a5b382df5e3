"""Customer deposits: the Deposits list, Customer Deposit (recording one), the deposit page,
Post / Cancel draft / Void, and Apply Deposit to an invoice and its Unapply."""

import uuid

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.listing import table_page
from invoicing import selectors, services
from invoicing.filters import DepositFilter
from invoicing.forms import ApplyDepositForm, DepositForm
from invoicing.policies import Act, actions_for
from invoicing.tables import DepositTable
from invoicing.views.base import (
    _act,
    _answer_or_refuse,
    _button,
    _for_customer,
    _form_page,
    _get_deposit,
    _get_document,
    _submit,
)
from ledger.selectors import entries_for_source

deposit_list_view = table_page(
    DepositTable,
    DepositFilter,
    "invoicing/deposit_list.html",
    selectors.deposit_list,
    export_name="deposits",
)


@_for_customer(title="Customer Deposit")
def deposit_create_view(request, customer):
    """Customer Deposit, from the customer's New actions."""
    form = DepositForm(
        request.POST or None,
        initial={"date": timezone.localdate(), "key": uuid.uuid4().hex, "method": "check"},
    )
    if request.method == "POST" and form.is_valid():
        deposit = _submit(
            request,
            form,
            lambda: services.deposit_record(
                customer=customer, by=request.user, **form.cleaned_data
            ),
            lambda deposit: f"Customer Deposit {deposit.number} of {deposit.amount:,.2f} recorded.",
        )
        if deposit is not None:
            return redirect(deposit)
    return _form_page(
        request,
        "invoicing/deposit_form.html",
        {"form": form, "customer": customer},
        sent=request.method == "POST",
    )


def deposit_detail_view(request, pk):
    deposit = _get_deposit(pk)
    refunds = list(deposit.refunds.select_related("created_by", "posted_by", "deposit"))
    for refund in refunds:
        refund.acts = actions_for(request.user, refund)
    acts = actions_for(request.user, deposit)
    return TemplateResponse(
        request,
        "invoicing/deposit_detail.html",
        {
            "deposit": deposit,
            "acts": acts,
            "applications": deposit.applications.select_related(
                "invoice", "created_by", "removed_by"
            ),
            "refunds": refunds,
            "entries": entries_for_source(deposit),
            "legs": services.deposit_posting_legs(deposit) if acts["preview_posting"] else [],
        },
    )


deposit_post_view = _button(
    _get_deposit, services.deposit_post, "deposit", "Customer Deposit {obj.number} posted."
)
deposit_cancel_view = _button(
    _get_deposit, services.deposit_cancel, "deposit", "Draft deposit {obj.number} cancelled."
)
deposit_void_view = _button(
    _get_deposit, services.deposit_void, "deposit", "Customer Deposit {obj.number} voided."
)


def apply_deposit_view(request, pk):
    """Apply Deposit on an invoice (Spectra's ribbon button)."""
    invoice = _get_document(pk)
    refused = _answer_or_refuse(
        request,
        Act.APPLY_DEPOSIT,
        invoice,
        "deposit_apply",
        lambda application: _applied(application.amount, application.deposit, invoice),
        invoice,
    )
    if refused is not None:
        return refused
    deposits = selectors.deposits_with_remainder(invoice.customer)
    if not deposits.exists():
        messages.error(request, f"{invoice.customer.name} has no deposit left to apply.")
        return redirect(invoice)
    first = deposits.first()
    form = ApplyDepositForm(
        request.POST or None,
        deposits=deposits,
        initial={
            "deposit": first.pk,
            "amount": f"{min(first.usable, invoice.balance_due):.2f}",
            "date": timezone.localdate(),
            "key": uuid.uuid4().hex,
        },
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        _submit(
            request,
            form,
            lambda: services.deposit_apply(invoice=invoice, by=request.user, **d),
            lambda _: _applied(d["amount"], d["deposit"], invoice),
        )
        if not form.errors:
            return redirect(invoice)
    return _form_page(
        request,
        "invoicing/apply_deposit.html",
        {"invoice": invoice, "form": form, "deposits": deposits},
        sent=request.method == "POST",
    )


def _applied(amount, deposit, invoice) -> str:
    return f"Applied {amount:,.2f} of {deposit.number} to {invoice.number}."


@require_POST
def deposit_unapply_view(request, pk, application_pk):
    invoice = _get_document(pk)
    application = get_object_or_404(
        invoice.deposit_applications.select_related("deposit"), pk=application_pk
    )
    return _act(
        request,
        services.deposit_unapply,
        f"Removed {application.amount:,.2f} of {application.deposit.number} from {invoice.number}.",
        invoice,
        application=application,
    )
