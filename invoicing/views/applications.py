"""Apply Credit and Unapply: credits applied to invoices (from either side), and the
allocation picker ("Amount to apply" per open document) that Record Payment shares.

The picker shows one page of the customer's open items (oldest due first), searchable by
number, amount or date; amounts typed on other pages travel with the form as hidden
inputs. Without JavaScript every control is a submit button of the one form (or `?q=`
and `?page=` on a link); with htmx:
- typing re-renders the summary (each row's new balance and error out of band);
- searching and paging re-render the list (`#allocation-list`);
- "Apply oldest first", "Clear" and "Show" (a row with an error on another page)
  re-render the rows, search box included (`#allocation-rows`).
"""

import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from invoicing import allocator, selectors, services
from invoicing.forms import AMOUNT_NAME, ApplyForm
from invoicing.models import Application
from invoicing.policies import Act
from invoicing.selectors.picker import open_items_to_fill
from invoicing.views.base import (
    _act,
    _answer_or_refuse,
    _form_page,
    _get_document,
)
from ledger.money import ZERO


def apply_view(request, pk):
    """Apply Credit, from a credit (to open invoices) or from an invoice (from credits)."""
    source = _get_document(pk)
    data = request.POST.copy() if request.method == "POST" else None
    action, query, page = _picker_state(request, data)
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
        counterparts = selectors.open_invoices(source.customer)
    else:
        counterparts = selectors.open_credits(source.customer)
    filled = None
    if action in ("fill", "clear"):
        filled = _fill_or_clear(data, action, allocator.usable(source), counterparts)
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
    fragment = _show_picker(request, form, context, data, action, query, page, filled)
    if fragment is not None:
        return fragment
    if data is not None and action == "apply" and not form.errors:
        applied = _submit_allocations(
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


# --- the picker ------------------------------------------------------------------------------


def _page_number(value) -> int:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 7 else 1


def _picker_state(request, data) -> tuple[str, str, int]:
    """(action, search, page) of a picker request.

    A GET shows `?q=` and `?page=`. A POST carries what the list shows (`shown_q`, `page`)
    and what the user asked: `goto` (a pager button), `find` (show one row by its number),
    `action=search`. Enter in the search box sends the form's default button (Apply or
    Save) without JavaScript: when the search box no longer says what the list shows, that
    is a search, never an Apply."""
    if data is None:
        return "", request.GET.get("q", "").strip()[:100], _page_number(request.GET.get("page"))
    action = data.get("action", "")
    shown = data.get("shown_q", "").strip()[:100]
    typed = data.get("q", shown).strip()[:100]
    page = _page_number(data.get("page"))
    if data.get("goto"):
        return "goto", shown, _page_number(data.get("goto"))
    if data.get("find"):
        return "find", data["find"].strip()[:100], 1
    if action in ("fill", "clear"):
        return action, "", 1
    if action == "search" or (action in ("apply", "save") and typed != shown):
        return "search", typed, 1
    return action, shown, page


def _fill_or_clear(data, action: str, available, counterparts):
    """ "Apply oldest first" fills the amounts from what is available, over all the open
    items (not only the page on screen); "Clear" empties them. Returns (rows filled,
    total) after a fill."""
    for name in [name for name in data if AMOUNT_NAME.match(name) or name == "carried"]:
        del data[name]
    if action != "fill":
        return None
    allocations = allocator.fill_oldest_first(
        available or 0, open_items_to_fill(counterparts, available or ZERO)
    )
    total = ZERO
    count = 0
    for allocation in allocations:
        if allocation.amount:
            data[f"amount_{allocation.document.pk}"] = f"{allocation.amount:.2f}"
            total += allocation.amount
            count += 1
    return {"count": count, "total": total}


def _show_picker(request, form, context, data, action: str, query, page, filled):
    """The picker form on the page of open items asked for, bound when `data` was posted
    (errors and running totals computed); with `data`, the htmx fragment to answer with
    (None: render the page or submit)."""
    if data is not None:
        form.is_valid()
    form.show(query=query, page=page)
    form.filled = filled
    if data is None:
        return None
    return _allocation_fragment(request, action, context)


def _allocation_fragment(request, action: str, context):
    """The htmx fragments of the picker: the rows (search box included) after fill, clear
    or "Show"; the list after a search or a page change; the summary (with each row's new
    balance out of band) while typing."""
    if not request.htmx:
        return None
    if action in ("fill", "clear", "find"):
        return TemplateResponse(request, "invoicing/_allocation.html#rows", context)
    if action in ("search", "goto"):
        return TemplateResponse(request, "invoicing/_allocation.html#list", context)
    if request.htmx.target == "allocation-summary":
        return TemplateResponse(
            request, "invoicing/_allocation.html#summary", dict(context, oob=True)
        )
    return None


def _submit_allocations(request, form, call, message):
    """`views.base._submit` for a picker form: the service's errors of `amount_<pk>` go
    next to their row (on screen or listed above the table), the others onto the form."""
    try:
        result = call()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                known = field in form.fields or AMOUNT_NAME.match(field)
                form.add_error(field if known else None, errors)
        else:
            form.add_error(None, exc)
        return None
    messages.success(request, message(result))
    return result


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
