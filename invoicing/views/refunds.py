"""Refunds, of a credit and of a customer deposit: the refund form (its "<" fills what is
open), Refund This Deposit, and a Poster's Release, Cancel and Reverse of either kind."""

import uuid

from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from invoicing import services
from invoicing.forms import RefundForm
from invoicing.policies import Act
from invoicing.views.base import (
    _act,
    _answer_or_refuse,
    _button,
    _form_page,
    _get_deposit,
    _get_deposit_refund,
    _get_document,
    _refused,
    _refused_kind,
    _submit,
)


def _pending_refund(refund) -> str:
    return f"Refund {refund.number} of {refund.amount:,.2f} is pending release by a Poster."


def _refund_form(request, open_credit, methods):
    """The refund form of this request and whether it was sent to be saved: "<" (action
    "fill") fills the entire open credit and shows the form again, unbound."""
    data = request.POST.copy() if request.method == "POST" else None
    action = data.get("action", "save") if data is not None else ""
    if action == "fill":
        data["amount"] = f"{open_credit:.2f}"
    form = RefundForm(
        data if action == "save" else None,
        open_credit=open_credit,
        methods=methods,
        initial={
            "date": timezone.localdate(),
            "key": uuid.uuid4().hex,
            "method": "check",
            **(data.dict() if data is not None else {}),
        },
    )
    return form, action == "save"


# --- refunds of credits (documents) -----------------------------------------------------------

refund_release_view = _button(
    _get_document,
    services.refund_release,
    "refund",
    "Refund {obj.number} of {obj.amount:,.2f} released.",
    act=Act.RELEASE,
)
refund_cancel_view = _button(
    _get_document,
    services.refund_cancel,
    "refund",
    "Refund {obj.number} cancelled; the credit is free again.",
    act=Act.CANCEL_REFUND,
)


def refund_reverse_view(request, pk):
    """Reverse a released refund (Poster): a preview of the reversing entry, then POST."""
    refund = _get_document(pk)
    if request.method == "POST":
        _refused_kind(request, Act.REVERSE_REFUND, refund)
        return _act(
            request,
            services.refund_reverse,
            f"Refund {refund.number} reversed; its credit is open again.",
            refund,
            refund=refund,
        )
    refused = _refused(request, Act.REVERSE_REFUND, refund)
    if refused is not None:
        return refused
    return TemplateResponse(
        request,
        "invoicing/refund_reverse.html",
        {
            "document": refund,
            "legs": services.refund_reversal_legs(refund),
            "nav_section": "payments",
        },
    )


# --- refunds of deposits ------------------------------------------------------------------------


def deposit_refund_view(request, pk):
    """Refund This Deposit."""
    deposit = _get_deposit(pk)

    def pending(refund):
        return (
            f"Refund of {refund.amount:,.2f} from {deposit.number} is pending release by a Poster."
        )

    refused = _answer_or_refuse(
        request, Act.REFUND, deposit, "deposit_refund_prepare", pending, deposit
    )
    if refused is not None:
        return refused
    form, save = _refund_form(request, deposit.usable, services.refund_methods())
    prepare = services.deposit_refund_prepare
    if save and form.is_valid():
        call = lambda: prepare(deposit=deposit, by=request.user, **form.cleaned_data)  # noqa: E731
        if _submit(request, form, call, pending) is not None:
            return redirect(deposit)
    return _form_page(
        request, "invoicing/deposit_refund.html", {"deposit": deposit, "form": form}, sent=save
    )


def _deposit_of(refund):
    return refund.deposit


deposit_refund_release_view = _button(
    _get_deposit_refund,
    services.deposit_refund_release,
    "refund",
    "Refund of {obj.amount:,.2f} from {obj.deposit.number} released.",
    target=_deposit_of,
)
deposit_refund_cancel_view = _button(
    _get_deposit_refund,
    services.deposit_refund_cancel,
    "refund",
    "Deposit refund cancelled.",
    target=_deposit_of,
)
deposit_refund_reverse_view = _button(
    _get_deposit_refund,
    services.deposit_refund_reverse,
    "refund",
    "Refund of {obj.amount:,.2f} from {obj.deposit.number} reversed.",
    target=_deposit_of,
)
