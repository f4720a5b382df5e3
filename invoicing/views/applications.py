"""Apply Credit and Unapply: credits applied to invoices (from either side), and the
allocation rows ("Amount to apply" per open document) that Record Payment shares.

htmx: typing re-renders the summary (with each row's new balance and error as out-of-band
swaps); "Apply oldest first" and "Clear" re-render the rows.
"""

import uuid
from decimal import Decimal

from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from invoicing import allocator, selectors, services
from invoicing.forms import ApplyForm
from invoicing.models import Application
from invoicing.policies import Act
from invoicing.views.base import (
    _act,
    _answer_or_refuse,
    _form_page,
    _get_document,
    _submit,
)


def apply_view(request, pk):
    """Apply Credit, from a credit (to open invoices) or from an invoice (from credits)."""
    source = _get_document(pk)
    data = request.POST.copy() if request.method == "POST" else None
    action = data.get("action", "") if data is not None else ""
    # A double click or a re-sent Apply: answer with what the first one did.
    refused = _answer_or_refuse(
        request,
        Act.APPLY,
        source,
        "credit_apply" if action == "apply" else None,
        lambda first: _applied_message(source, Application.objects.filter(batch_id=first.batch_id)),
        source,
    )
    if refused is not None:
        return refused
    from_credit = source.balance_due < 0
    if from_credit:
        counterparts = list(selectors.open_invoices(source.customer))
    else:
        counterparts = list(selectors.open_credits(source.customer))
    if action in ("fill", "clear"):
        _fill_or_clear(data, action, allocator.usable(source), counterparts)
    form = ApplyForm(
        data,
        source=source,
        counterparts=counterparts,
        initial={"date": timezone.localdate(), "key": uuid.uuid4().hex},
    )
    context = {
        "source": source,
        "customer": source.customer,
        "form": form,
        "oob": False,
        "from_credit": from_credit,
    }
    if data is not None:
        form.is_valid()  # bound: compute errors and the running totals
        fragment = _allocation_fragment(request, action, context)
        if fragment is not None:
            return fragment
        if action == "apply" and not form.errors:
            applied = _submit(
                request,
                form,
                lambda: services.credit_apply(
                    source=source,
                    allocations=form.allocations(),
                    date=form.cleaned_data["date"],
                    key=form.cleaned_data["key"],
                    by=request.user,
                ),
                lambda applied: _applied_message(source, applied),
            )
            if applied is not None:
                return redirect(source)
    return _form_page(request, "invoicing/apply.html", context, sent=action == "apply")


def _applied_message(source, applied) -> str:
    applied = list(applied)
    total = sum((a.amount for a in applied), Decimal(0))
    return (
        f"Applied {total:,.2f} of {source.number} to "
        f"{len(applied)} {'document' if len(applied) == 1 else 'documents'}."
    )


def _fill_or_clear(data, action: str, available, counterparts) -> None:
    """ "Apply oldest first" fills the amounts from what is available (what each row can
    still use); "Clear" empties them."""
    for allocation in allocator.fill_oldest_first(available or 0, counterparts):
        amount = allocation.amount
        data[f"amount_{allocation.document.pk}"] = (
            f"{amount:.2f}" if action == "fill" and amount else ""
        )


def _allocation_fragment(request, action: str, context):
    """The htmx fragments of the allocation rows: all rows after fill/clear, the summary
    (with each row's new balance out of band) while typing."""
    if request.htmx and action in ("fill", "clear"):
        return TemplateResponse(request, "invoicing/_allocation.html#rows", context)
    if request.htmx and request.htmx.target == "allocation-summary":
        return TemplateResponse(
            request, "invoicing/_allocation.html#summary", dict(context, oob=True)
        )
    return None


@require_POST
def unapply_view(request, pk, application_pk):
    document = _get_document(pk)
    application = get_object_or_404(
        Application.objects.filter(Q(target=document) | Q(source=document)).select_related(
            "target", "source"
        ),
        pk=application_pk,
    )
    return _act(
        request,
        services.credit_unapply,
        f"Removed {application.amount:,.2f} of {application.source.number} "
        f"from {application.target.number}.",
        document,
        application=application,
    )
