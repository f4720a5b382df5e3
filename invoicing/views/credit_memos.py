"""Credit memos: a standalone one (through the draft editor, aACE) and one made from a
posted invoice's lines (Spectra's "Create Credit Memo", Method 1), created and edited."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from config.versioning import StaleVersion
from invoicing import selectors, services
from invoicing.forms import CreditFromInvoiceForm
from invoicing.models import DocumentKind
from invoicing.policies import Act, require_drafting
from invoicing.views.base import (
    _add_service_errors,
    _answer_or_refuse,
    _answer_resent,
    _customer_from_query,
    _form_page,
    _get_document,
)
from invoicing.views.editor import _editor


def credit_memo_create_view(request):
    """A standalone credit memo (aACE), or from the customer record (Spectra)."""
    customer = _customer_from_query(request)
    return _editor(request, kind=DocumentKind.CREDIT_MEMO, customer=customer)


def credit_memo_from_invoice_view(request, pk):
    """Spectra's "Create Credit Memo" on an invoice (Method 1)."""
    invoice = _get_document(pk)
    refused = _answer_or_refuse(
        request, Act.CREDIT_MEMO, invoice, "credit_memo_create", _memo_saved, quiet=True
    )
    if refused is not None:
        return refused
    response = _credit_from_invoice(request, invoice=invoice, memo=None)
    if response.status_code == 400:
        # The same form sent twice at once: the first may have committed while this one
        # was being checked (its quantities are no longer creditable); answer as it did.
        return _memo_resent(request) or response
    return response


def _memo_resent(request):
    """A double click or a re-sent form: the memo the first one made; nothing more is done."""
    return _answer_resent(request, "credit_memo_create", _memo_saved, quiet=True)


def _memo_saved(memo) -> str:
    return f"Credit Memo {memo.number} saved as a draft."


def _credit_from_invoice(request, *, invoice, memo):
    require_drafting(request.user)
    rows = selectors.creditable_lines(invoice, exclude_memo=memo)
    initial = {}
    if memo is not None:
        fields = ("date", "reason", "description", "note", "version")
        initial = {name: getattr(memo, name) for name in fields}
    form = CreditFromInvoiceForm(
        request.POST or None,
        rows=rows,
        current=selectors.credit_memo_quantities(memo) if memo else None,
        initial=initial,
    )
    stale = False
    if request.method == "POST" and form.is_valid():
        try:
            return redirect(_save_memo(request, invoice, memo, form.cleaned_data))
        except ValidationError as exc:
            _add_service_errors(form, exc)
            stale = isinstance(exc, StaleVersion)
    response = _form_page(
        request,
        "invoicing/credit_from_invoice.html",
        {"form": form, "invoice": invoice, "memo": memo, "rows": form.line_rows(), "stale": stale},
        sent=request.method == "POST",
    )
    if stale:
        response.status_code = 409
    return response


def _save_memo(request, invoice, memo, data):
    """Create the memo of `invoice`, or update `memo`; the success message names it."""
    fields = {
        "quantities": data["quantities"],
        "reason": data["reason"],
        "date": data["date"],
        "note": data["note"],
        "description": data["description"],
        "by": request.user,
    }
    if memo is None:
        memo = services.credit_memo_create_from_invoice(
            invoice=invoice, key=request.POST.get("key", ""), **fields
        )
        messages.success(request, f"Credit Memo {memo.number} saved as a draft.")
        return memo
    memo = services.credit_memo_update_from_invoice(
        memo=memo, expected_version=data.get("version"), **fields
    )
    messages.success(request, f"Credit Memo {memo.number} saved.")
    return memo
