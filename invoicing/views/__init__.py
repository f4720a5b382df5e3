"""Invoices hub, invoice/credit memo page, draft editor, post and void.

Views parse input with a form, call one service and render; htmx requests get the
fragment of the same template (`template#partial`).
"""

import csv
import datetime
import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.listing import FilteredTableView
from config.roles import Action, require, user_may
from config.versioning import StaleVersion
from customers.models import Customer
from invoicing import allocator, selectors, services
from invoicing.filters import DepositFilter, DocumentFilter, PaymentFilter
from invoicing.forms import (
    LINE_FIELDS,
    ApplyDepositForm,
    ApplyForm,
    CreditFromInvoiceForm,
    DepositForm,
    DocumentForm,
    LineFormSet,
    PaymentForm,
    RefundForm,
)
from invoicing.models import Application, Deposit, DepositRefund, Document, DocumentKind
from invoicing.policies import Act, actions_for, decide
from invoicing.pricing import LineAmounts, document_totals, line_amounts
from invoicing.tables import DepositTable, DocumentTable, PaymentTable
from ledger.idempotency import first_result, was_used
from ledger.selectors import entries_for_source

MAX_LINES = 200


class DocumentListView(FilteredTableView):
    """The Invoices hub: invoices and credits together."""

    table_class = DocumentTable
    filterset_class = DocumentFilter
    template_name = "invoicing/document_list.html"

    def get_queryset(self):
        return selectors.hub_documents()

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            return self.export_csv()
        return super().get(request, *args, **kwargs)

    def export_csv(self):
        filterset = self.filterset_class(
            self.request.GET, queryset=self.get_queryset(), request=self.request
        )
        qs = filterset.qs if filterset.is_valid() else self.get_queryset().none()
        table = self.table_class(qs)
        response = HttpResponse(content_type="text/csv")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="invoices-{stamp}.csv"'
        writer = csv.writer(response)
        for row in table.as_values():
            writer.writerow(row)
        return response


def document_detail_view(request, pk):
    document = _get_document(pk)
    applications = list(selectors.applications_for(document))
    for app in applications:
        app.may_unapply = decide(request.user, Act.UNAPPLY, app).allowed
    deposit_applications = list(selectors.deposit_applications_for_invoice(document))
    for app in deposit_applications:
        app.may_unapply = decide(request.user, Act.UNAPPLY, app).allowed
    money_links = list(selectors.money_documents_for(document))
    for link in money_links:
        link.acts = actions_for(request.user, link)
    return TemplateResponse(
        request,
        "invoicing/document_detail.html",
        {
            "document": document,
            "acts": actions_for(request.user, document),
            "lines": selectors.document_lines(document),
            "entries": entries_for_source(document),
            "nav_section": "payments" if document.is_money else "invoicing",
            "credit_memos": selectors.credit_memos_of(document),
            "applications": applications,
            "money_links": money_links,
            "deposit_applications": deposit_applications,
            "has_deposits": selectors.deposits_with_remainder(document.customer).exists(),
        },
    )


def _get_document(pk) -> Document:
    try:
        return selectors.document_get(pk)
    except Document.DoesNotExist:
        raise Http404("No such document.") from None


def _act(request, action, success, target):
    """Run one service call from a POST button: its message on success, its errors as
    messages otherwise, and back to `target` either way."""
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success() if callable(success) else success)
    return redirect(target)


# --- the draft editor -----------------------------------------------------------------


def _qty(value) -> str:
    return f"{value.normalize():f}" if value is not None else ""


def _rows_from_document(document: Document) -> list[dict]:
    return [
        {
            "item": line.item_id,
            "description": line.description,
            "quantity": _qty(line.quantity),
            "unit_price": f"{line.unit_price:f}",
            "unit_adjustment": f"{line.unit_adjustment:f}" if line.unit_adjustment else "",
            "tax_profile": line.tax_profile_id,
        }
        for line in document.lines.all()
    ]


def _rows_from_post(data) -> list[dict]:
    try:
        count = int(data.get("lines-TOTAL_FORMS", 0))
    except ValueError:
        count = 0
    count = max(0, min(count, MAX_LINES))
    return [
        {field: data.get(f"lines-{i}-{field}", "") for field in LINE_FIELDS} for i in range(count)
    ]


def _preview_totals(formset):
    """Totals of the rows that parse, for the live preview; rows with errors count as 0."""
    amounts, per_row = [], []
    for form in formset.forms:
        if form.has_changed() and form.is_valid() and form.cleaned_data.get("tax_profile"):
            data = form.cleaned_data
            line = line_amounts(
                quantity=data["quantity"],
                unit_price=data["unit_price"],
                unit_adjustment=data.get("unit_adjustment") or 0,
                tax_rate=data["tax_profile"].rate,
            )
            amounts.append(line)
            per_row.append(line.extended)
        else:
            amounts.append(LineAmounts(0, 0))
            per_row.append(None)
    return document_totals(amounts), per_row


def _editor(request, *, kind, document=None, customer=None):
    require(request.user, Action.EDIT_DRAFTS)
    template = "invoicing/document_form.html"
    errors, stale = [], False
    if request.method == "POST":
        action = request.POST.get("action", "save")
        header = DocumentForm(request.POST, kind=kind)
        if action in ("add_line",) or action.startswith("remove_line"):
            rows = _rows_from_post(request.POST)
            if action == "add_line" and len(rows) < MAX_LINES:
                rows.append({})
            elif action.startswith("remove_line:"):
                index = action.split(":", 1)[1]
                if index.isdigit() and int(index) < len(rows):
                    rows.pop(int(index))
            formset = LineFormSet(initial=rows, prefix="lines")
            totals, per_row = _preview_totals(LineFormSet(_formset_data(rows), prefix="lines"))
            if request.htmx:
                template += "#lines"
            # Adding or removing a row isn't a save: show no errors yet.
            header = DocumentForm(kind=kind, initial=request.POST.dict())
            return _render_editor(
                request, template, header, formset, totals, per_row, kind, document
            )
        formset = LineFormSet(request.POST, prefix="lines")
        if request.htmx and request.htmx.target == "totals":
            totals, per_row = _preview_totals(formset)
            return _render_editor(
                request,
                template + "#totals",
                header,
                formset,
                totals,
                per_row,
                kind,
                document,
                oob=True,
            )
        if header.is_valid() and formset.is_valid():
            data = header.cleaned_data
            try:
                if document is None:
                    document = services.document_create(
                        kind=kind,
                        customer=data["customer"],
                        date=data["date"],
                        billing_terms=data["billing_terms"] or data["customer"].billing_terms,
                        description=data["description"],
                        reason=data.get("reason", ""),
                        note=data.get("note", ""),
                        lines=formset.line_inputs(),
                        by=request.user,
                        key=request.POST.get("key", ""),
                    )
                    messages.success(
                        request, f"{document.title} {document.number} saved as a draft."
                    )
                else:
                    document = services.document_update_draft(
                        document=document,
                        customer=data["customer"],
                        date=data["date"],
                        billing_terms=data["billing_terms"] or data["customer"].billing_terms,
                        description=data["description"],
                        reason=data.get("reason"),
                        note=data.get("note"),
                        lines=formset.line_inputs(),
                        by=request.user,
                        expected_version=data.get("version"),
                    )
                    messages.success(request, f"{document.title} {document.number} saved.")
                return redirect(document)
            except ValidationError as exc:
                errors = exc.messages
                stale = isinstance(exc, StaleVersion)
        totals, per_row = _preview_totals(formset)
        response = _render_editor(
            request,
            template,
            header,
            formset,
            totals,
            per_row,
            kind,
            document,
            errors=errors,
            stale=stale,
        )
        # A save that didn't save: errors are shown beside the fields, the input kept; 409
        # when someone else saved the draft since this page loaded.
        response.status_code = 409 if stale else 400
        return response

    if document is not None:
        header = DocumentForm(
            kind=kind,
            initial={
                "customer": document.customer_id,
                "date": document.date,
                "billing_terms": document.billing_terms,
                "description": document.description,
                "reason": document.reason,
                "note": document.note,
                "version": document.version,
            },
        )
        rows = _rows_from_document(document)
    else:
        header = DocumentForm(kind=kind, initial={"customer": customer.pk if customer else None})
        rows = [{}]
    formset = LineFormSet(initial=rows, prefix="lines")
    totals, per_row = _preview_totals(LineFormSet(_formset_data(rows), prefix="lines"))
    return _render_editor(request, template, header, formset, totals, per_row, kind, document)


def _formset_data(rows: list[dict]) -> dict:
    data = {"lines-TOTAL_FORMS": str(len(rows)), "lines-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for field, value in row.items():
            data[f"lines-{i}-{field}"] = "" if value is None else str(value)
    return data


def _render_editor(
    request,
    template,
    header,
    formset,
    totals,
    per_row,
    kind,
    document,
    errors=(),
    oob=False,
    stale=False,
):
    credit_sources = None
    if kind == DocumentKind.CREDIT_MEMO and document is None:
        customer_id = header["customer"].value()
        if customer_id and str(customer_id).isdigit():
            credit_sources = selectors.creditable_invoices(int(customer_id))[:20]
    return TemplateResponse(
        request,
        template,
        {
            "form": header,
            "formset": formset,
            "rows": list(zip(formset.forms, per_row, strict=False)),
            "totals": totals,
            "kind": kind,
            "kind_label": DocumentKind(kind).label,
            "document": document,
            "errors": errors,
            "oob": oob,
            "credit_sources": credit_sources,
            "stale": stale,
        },
    )


def document_create_view(request):
    customer = None
    if request.GET.get("customer", "").isdigit():
        customer = Customer.objects.filter(pk=request.GET["customer"]).first()
    return _editor(request, kind=DocumentKind.INVOICE, customer=customer)


def credit_memo_create_view(request):
    """A standalone credit memo (aACE), or from the customer record (Spectra)."""
    customer = None
    if request.GET.get("customer", "").isdigit():
        customer = Customer.objects.filter(pk=request.GET["customer"]).first()
    return _editor(request, kind=DocumentKind.CREDIT_MEMO, customer=customer)


def document_edit_view(request, pk):
    document = _get_document(pk)
    refused = _refused(request, Act.EDIT, document)
    if refused is not None:
        return refused
    if document.kind == DocumentKind.CREDIT_MEMO and document.source_invoice_id:
        return _credit_from_invoice(request, invoice=document.source_invoice, memo=document)
    return _editor(request, kind=document.kind, document=document)


def credit_memo_from_invoice_view(request, pk):
    """Spectra's "Create Credit Memo" on an invoice (Method 1)."""
    invoice = _get_document(pk)
    resent = _memo_resent(request)
    if resent is not None:
        return resent
    refused = _refused(request, Act.CREDIT_MEMO, invoice)
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
    if not _resent(request):
        return None
    try:
        memo = first_result(request.POST["key"], scope="credit_memo_create", by=request.user)
    except ValidationError:
        return None  # the key was used for something else: the service says so
    if memo is None:
        return None
    messages.success(request, f"Credit Memo {memo.number} saved as a draft.")
    return redirect(memo)


def _credit_from_invoice(request, *, invoice, memo):
    require(request.user, Action.EDIT_DRAFTS)
    rows = selectors.creditable_lines(invoice, exclude_memo=memo)
    initial = {}
    if memo is not None:
        initial = {
            "date": memo.date,
            "reason": memo.reason,
            "description": memo.description,
            "note": memo.note,
            "version": memo.version,
        }
    form = CreditFromInvoiceForm(
        request.POST or None,
        rows=rows,
        current=selectors.credit_memo_quantities(memo) if memo else None,
        initial=initial,
    )
    stale = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {
            "quantities": data["quantities"],
            "reason": data["reason"],
            "date": data["date"],
            "note": data["note"],
            "description": data["description"],
            "by": request.user,
        }
        try:
            if memo is None:
                memo = services.credit_memo_create_from_invoice(
                    invoice=invoice, key=request.POST.get("key", ""), **fields
                )
                messages.success(request, f"Credit Memo {memo.number} saved as a draft.")
            else:
                memo = services.credit_memo_update_from_invoice(
                    memo=memo, expected_version=data.get("version"), **fields
                )
                messages.success(request, f"Credit Memo {memo.number} saved.")
            return redirect(memo)
        except ValidationError as exc:
            _add_service_errors(form, exc)
            stale = isinstance(exc, StaleVersion)
    return TemplateResponse(
        request,
        "invoicing/credit_from_invoice.html",
        {
            "form": form,
            "invoice": invoice,
            "memo": memo,
            "rows": form.line_rows(),
            "stale": stale,
        },
        status=(409 if stale else 400) if request.method == "POST" else 200,
    )


def _add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


# --- posting and voiding ---------------------------------------------------------------


def document_post_view(request, pk):
    document = _get_document(pk)
    refused = _refused(request, Act.POST, document)
    if request.method == "POST":
        try:
            posted = services.document_post(
                document=document, by=request.user, key=request.POST.get("key", "")
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(document)
        messages.success(request, f"{posted.title} {posted.number} posted.")
        for note in getattr(posted, "post_notes", []):
            messages.warning(request, note)
        return redirect(posted)
    if refused is not None:
        return refused
    return TemplateResponse(
        request,
        "invoicing/document_post.html",
        {
            "document": document,
            "legs": services.posting_legs(document),
            "customer_ids": {document.customer_id: document.customer},
        },
    )


def document_void_view(request, pk):
    document = _get_document(pk)
    _refused_kind(request, Act.VOID, document)
    undo = services.void_undo_list(document)
    error = None
    void_date = timezone.localdate()
    if request.method == "POST":
        try:
            void_date = datetime.date.fromisoformat(request.POST.get("date", ""))
        except ValueError:
            error = "Enter a valid date."
        if error is None:
            try:
                services.document_void(
                    document=document,
                    by=request.user,
                    date=void_date,
                    unapply_all=request.POST.get("unapply_all") == "1",
                    key=request.POST.get("key", ""),
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(request, f"{document.title} {document.number} voided.")
                return redirect(document)
    decision = decide(request.user, Act.VOID, document)
    return TemplateResponse(
        request,
        "invoicing/document_void.html",
        {
            "document": document,
            "error": error,
            "void_date": void_date,
            "undo": undo,
            "blocked": "" if decision.allowed or undo else decision.reason,
        },
        status=400 if error else 200,
    )


@require_POST
def document_cancel_view(request, pk):
    document = _get_document(pk)
    _refused_kind(request, Act.CANCEL, document)
    return _act(
        request,
        lambda: services.document_cancel_draft(
            document=document, by=request.user, key=request.POST.get("key", "")
        ),
        f"Draft {document.number} cancelled.",
        document,
    )


# --- Apply Credit -------------------------------------------------------------------------


def apply_view(request, pk):
    """Apply Credit, from a credit (to open invoices) or from an invoice (from credits).

    htmx: typing re-renders the summary (with each row's new balance and error as
    out-of-band swaps); "Apply oldest first" and "Clear" re-render the rows.
    """
    source = _get_document(pk)
    data = request.POST.copy() if request.method == "POST" else None
    action = data.get("action", "") if data is not None else ""
    if action == "apply" and was_used(data.get("key", "")):
        # A double click or a re-sent form: answer with what the first one did.
        first = _first_result(request, "credit_apply")
        if first is None:
            return redirect(source)
        applied = Application.objects.filter(batch_id=first.batch_id)
        return _applied_message(request, source, list(applied))
    refused = _refused(request, Act.APPLY, source)
    if refused is not None:
        return refused
    if source.balance_due < 0:
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
        "from_credit": source.balance_due < 0,
    }
    if data is not None:
        form.is_valid()  # bound: compute errors and the running totals
        fragment = _allocation_fragment(request, action, context)
        if fragment is not None:
            return fragment
        if action == "apply" and not form.errors:
            response = _apply_submit(request, source, form)
            if response is not None:
                return response
    status = 400 if data is not None and action == "apply" else 200
    return TemplateResponse(request, "invoicing/apply.html", context, status=status)


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
        Application.objects.filter(Q(invoice=document) | Q(credit=document)).select_related(
            "invoice", "credit"
        ),
        pk=application_pk,
    )
    return _act(
        request,
        lambda: services.credit_unapply(
            application=application, by=request.user, key=request.POST.get("key", "")
        ),
        f"Removed {application.amount:,.2f} of {application.credit.number} from {application.invoice.number}.",
        document,
    )


# --- payments and refunds -----------------------------------------------------------------


class PaymentListView(FilteredTableView):
    """Payments & Refunds: money in and out; "Pending refunds" is a filter for Posters."""

    table_class = PaymentTable
    filterset_class = PaymentFilter
    template_name = "invoicing/payment_list.html"

    def get_queryset(self):
        return selectors.money_documents()


def payment_record_view(request):
    """Record Payment for a customer and allocate it with the Apply Credit rows."""
    require(request.user, Action.EDIT_DRAFTS)
    customer_id = request.GET.get("customer", "")
    customer = Customer.objects.filter(pk=customer_id).first() if customer_id.isdigit() else None
    if customer is None:
        return TemplateResponse(
            request,
            "invoicing/payment_pick_customer.html",
            {"customers": Customer.objects.filter(is_active=True).order_by("name")},
        )
    counterparts = list(selectors.open_invoices(customer))
    data = request.POST.copy() if request.method == "POST" else None
    action = data.get("action", "") if data is not None else ""
    if data is not None and action in ("fill", "clear"):
        probe = PaymentForm(data, counterparts=[])
        probe.is_valid()
        _fill_or_clear(data, action, probe.available, counterparts)
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
    if data is not None:
        form.is_valid()
        fragment = _allocation_fragment(request, action, context)
        if fragment is not None:
            return fragment
        if action == "save" and form.is_valid():
            payment = _save_payment(
                request,
                form,
                services.payment_record,
                customer=customer,
                allocations=form.allocations(),
            )
            if payment is not None:
                return redirect(payment)
    status = 400 if data is not None and action == "save" else 200
    return TemplateResponse(request, "invoicing/payment_form.html", context, status=status)


def _save_payment(request, form, service, **target):
    """Call a payment service with the form's fields and `target` (the customer and
    allocations, or the document paid); errors go back onto the form."""
    data = form.cleaned_data
    try:
        payment = service(
            date=data["date"],
            method=data["method"],
            amount=data["amount"],
            reference=data["reference"],
            memo=data.get("memo", ""),
            key=data["key"],
            by=request.user,
            **target,
        )
    except ValidationError as exc:
        _add_service_errors(form, exc)
        return None
    messages.success(
        request,
        f"Payment {payment.number} of {payment.amount:,.2f} recorded"
        + (" — a Poster posts it." if not user_may(request.user, Action.POST) else "."),
    )
    return payment


def payment_or_refund_view(request, pk):
    """Spectra's "Payment or Refund" on a document: type Payment or Refund."""
    document = _get_document(pk)
    credit, open_credit = services.refund_source(document)
    kind = (
        request.POST.get("type") or request.GET.get("type") or ("refund" if credit else "payment")
    )
    if kind not in ("refund", "payment"):
        raise Http404("Choose Payment or Refund.")
    initial = {"date": timezone.localdate(), "key": uuid.uuid4().hex}
    data = request.POST.copy() if request.method == "POST" else None
    action = data.get("action", "save") if data is not None else ""
    resent = action == "save" and was_used(data.get("key", ""))
    if resent:
        # A double click or a re-sent form: answer as the first one did (its form would
        # now fail the open-credit check the first one used up); nothing more is done.
        try:
            first = first_result(
                data["key"],
                scope="refund_prepare" if kind == "refund" else "payment_record",
                by=request.user,
            )
        except ValidationError:
            first = None  # the key was used for something else: the service says so below
        if first is not None:
            messages.success(
                request,
                f"Refund {first.number} of {first.amount:,.2f} is pending release by a Poster."
                if kind == "refund"
                else f"Payment {first.number} of {first.amount:,.2f} recorded.",
            )
            return redirect(document)
    # The policy first: a 404 for a document that takes no payment or refund, whoever asks.
    refused = None if resent else _refused(request, Act(kind), document)
    if refused is not None:
        return refused
    require(request.user, Action.EDIT_DRAFTS)
    if kind == "refund":
        if action == "fill":  # the "<" button: the entire open credit
            data["amount"] = f"{open_credit:.2f}"
        form = RefundForm(
            data if action == "save" else None,
            open_credit=open_credit,
            methods=services.refund_methods(store_credit=True),
            initial={**initial, "method": "check", **(data.dict() if data is not None else {})},
        )
        if action == "save" and form.is_valid():
            d = form.cleaned_data
            try:
                refund = services.refund_prepare(
                    document=document,
                    amount=d["amount"],
                    method=d["method"],
                    date=d["date"],
                    reference=d["reference"],
                    memo=d["memo"],
                    key=d["key"],
                    by=request.user,
                )
            except ValidationError as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Refund {refund.number} of {refund.amount:,.2f} is pending release by a Poster.",
                )
                return redirect(document)
    else:
        form = PaymentForm(
            data if action == "save" else None,
            counterparts=[],
            initial=dict(initial, method="check"),
        )
        if action == "save" and form.is_valid():
            payment = _save_payment(request, form, services.payment_on_document, document=document)
            if payment is not None:
                return redirect(document)
    status = 400 if action == "save" else 200
    return TemplateResponse(
        request,
        "invoicing/payment_or_refund.html",
        {
            "document": document,
            "form": form,
            "kind": kind,
            "open_credit": open_credit,
            "credit": credit,
        },
        status=status,
    )


@require_POST
def refund_release_view(request, pk):
    refund = _get_document(pk)
    _refused_kind(request, Act.RELEASE, refund)
    return _act(
        request,
        lambda: services.refund_release(
            refund=refund, by=request.user, key=request.POST.get("key", "")
        ),
        f"Refund {refund.number} of {refund.amount:,.2f} released.",
        refund,
    )


@require_POST
def refund_cancel_view(request, pk):
    refund = _get_document(pk)
    _refused_kind(request, Act.CANCEL_REFUND, refund)
    return _act(
        request,
        lambda: services.refund_cancel(
            refund=refund, by=request.user, key=request.POST.get("key", "")
        ),
        f"Refund {refund.number} cancelled; the credit is free again.",
        refund,
    )


# --- customer deposits -----------------------------------------------------------------------


class DepositListView(FilteredTableView):
    table_class = DepositTable
    filterset_class = DepositFilter
    template_name = "invoicing/deposit_list.html"

    def get_queryset(self):
        return selectors.deposit_list()


def _get_deposit(pk) -> Deposit:
    try:
        return selectors.deposit_get(pk)
    except Deposit.DoesNotExist:
        raise Http404("No such deposit.") from None


def deposit_create_view(request):
    """Customer Deposit, from the customer's New actions."""
    require(request.user, Action.EDIT_DRAFTS)
    customer_id = request.GET.get("customer", "")
    customer = Customer.objects.filter(pk=customer_id).first() if customer_id.isdigit() else None
    if customer is None:
        return TemplateResponse(
            request,
            "invoicing/payment_pick_customer.html",
            {
                "customers": Customer.objects.filter(is_active=True).order_by("name"),
                "title": "Customer Deposit",
            },
        )
    form = DepositForm(
        request.POST or None,
        initial={"date": timezone.localdate(), "key": uuid.uuid4().hex, "method": "check"},
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            deposit = services.deposit_record(customer=customer, by=request.user, **d)
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Customer Deposit {deposit.number} of {deposit.amount:,.2f} recorded."
            )
            return redirect(deposit)
    return TemplateResponse(
        request,
        "invoicing/deposit_form.html",
        {"form": form, "customer": customer},
        status=400 if request.method == "POST" else 200,
    )


def deposit_detail_view(request, pk):
    deposit = _get_deposit(pk)
    refunds = list(deposit.refunds.select_related("created_by", "released_by", "deposit"))
    for refund in refunds:
        refund.acts = actions_for(request.user, refund)
    return TemplateResponse(
        request,
        "invoicing/deposit_detail.html",
        {
            "deposit": deposit,
            "acts": actions_for(request.user, deposit),
            "applications": deposit.applications.select_related(
                "invoice", "created_by", "removed_by"
            ),
            "refunds": refunds,
            "entries": entries_for_source(deposit),
            "legs": services.deposit_posting_legs(deposit) if deposit.status == "draft" else [],
        },
    )


@require_POST
def deposit_post_view(request, pk):
    deposit = _get_deposit(pk)
    return _act(
        request,
        lambda: services.deposit_post(
            deposit=deposit, by=request.user, key=request.POST.get("key", "")
        ),
        f"Customer Deposit {deposit.number} posted.",
        deposit,
    )


def deposit_refund_view(request, pk):
    """Refund This Deposit."""
    deposit = _get_deposit(pk)
    if _resent(request):
        refund = _first_result(request, "deposit_refund_prepare")
        if refund is None:
            return redirect(deposit)
        messages.success(
            request,
            f"Refund of {refund.amount:,.2f} from {deposit.number} is pending release by a Poster.",
        )
        return redirect(deposit)
    refused = _refused(request, Act.REFUND, deposit)
    if refused is not None:
        return refused
    data = request.POST.copy() if request.method == "POST" else None
    action = data.get("action", "save") if data is not None else ""
    if action == "fill":
        data["amount"] = f"{deposit.usable:.2f}"
    form = RefundForm(
        data if action == "save" else None,
        open_credit=deposit.usable,
        methods=services.refund_methods(),
        initial={
            "date": timezone.localdate(),
            "key": uuid.uuid4().hex,
            "method": "check",
            **(data.dict() if data is not None else {}),
        },
    )
    if action == "save" and form.is_valid():
        try:
            refund = services.deposit_refund_prepare(
                deposit=deposit, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Refund of {refund.amount:,.2f} from {deposit.number} is pending release by a Poster.",
            )
            return redirect(deposit)
    return TemplateResponse(
        request,
        "invoicing/deposit_refund.html",
        {"deposit": deposit, "form": form},
        status=400 if action == "save" else 200,
    )


@require_POST
def deposit_refund_release_view(request, pk):
    refund = _get_deposit_refund(pk)
    return _act(
        request,
        lambda: services.deposit_refund_release(
            refund=refund, by=request.user, key=request.POST.get("key", "")
        ),
        f"Refund of {refund.amount:,.2f} from {refund.deposit.number} released.",
        refund.deposit,
    )


@require_POST
def deposit_refund_cancel_view(request, pk):
    refund = _get_deposit_refund(pk)
    return _act(
        request,
        lambda: services.deposit_refund_cancel(
            refund=refund, by=request.user, key=request.POST.get("key", "")
        ),
        "Deposit refund cancelled.",
        refund.deposit,
    )


def apply_deposit_view(request, pk):
    """Apply Deposit on an invoice (Spectra's ribbon button)."""
    invoice = _get_document(pk)
    if _resent(request):
        # A re-sent form: answer with what the first one did; nothing more is done.
        application = _first_result(request, "deposit_apply")
        if application is None:
            return redirect(invoice)
        messages.success(
            request,
            f"Applied {application.amount:,.2f} of {application.deposit.number} to {invoice.number}.",
        )
        return redirect(invoice)
    refused = _refused(request, Act.APPLY_DEPOSIT, invoice)
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
        try:
            services.deposit_apply(
                deposit=d["deposit"],
                invoice=invoice,
                amount=d["amount"],
                date=d["date"],
                by=request.user,
                key=d["key"],
            )
        except ValidationError as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(
                request, f"Applied {d['amount']:,.2f} of {d['deposit'].number} to {invoice.number}."
            )
            return redirect(invoice)
    return TemplateResponse(
        request,
        "invoicing/apply_deposit.html",
        {"invoice": invoice, "form": form, "deposits": deposits},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
def deposit_unapply_view(request, pk, application_pk):
    invoice = _get_document(pk)
    application = get_object_or_404(
        invoice.deposit_applications.select_related("deposit"), pk=application_pk
    )
    return _act(
        request,
        lambda: services.deposit_unapply(
            application=application, by=request.user, key=request.POST.get("key", "")
        ),
        f"Removed {application.amount:,.2f} of {application.deposit.number} from {invoice.number}.",
        invoice,
    )


def _refused(request, act, obj, target=None):
    """The policy's answer for a page: None when `act` is allowed; a 404 when the act
    doesn't exist for this kind of object; a 403 when the role lacks it; otherwise the
    reason as a message and back to the object."""
    decision = decide(request.user, act, obj)
    if decision.allowed:
        return None
    if decision.not_applicable:
        raise Http404(decision.reason)
    if decision.forbidden:
        raise PermissionDenied(decision.reason)
    messages.error(request, decision.reason)
    return redirect(target or obj)


def _apply_submit(request, source, form):
    """Call credit_apply with the form's rows; a redirect on success, None (errors on the
    form) otherwise."""
    try:
        applied = services.credit_apply(
            source=source,
            allocations=form.allocations(),
            date=form.cleaned_data["date"],
            key=form.cleaned_data["key"],
            by=request.user,
        )
    except ValidationError as exc:
        _add_service_errors(form, exc)
        return None
    return _applied_message(request, source, applied)


def _applied_message(request, source, applied):
    total = sum((a.amount for a in applied), Decimal(0))
    messages.success(
        request,
        f"Applied {total:,.2f} of {source.number} to "
        f"{len(applied)} {'document' if len(applied) == 1 else 'documents'}.",
    )
    return redirect(source)


def _refused_kind(request, act, obj) -> None:
    """404 for an act that doesn't exist for this kind of object, 403 for a missing role;
    state is left to the service, which answers with its message."""
    decision = decide(request.user, act, obj)
    if decision.not_applicable:
        raise Http404(decision.reason)
    if decision.forbidden:
        raise PermissionDenied(decision.reason)


def refund_reverse_view(request, pk):
    """Reverse a released refund (Poster): a preview of the reversing entry, then POST."""
    refund = _get_document(pk)
    if request.method == "POST":
        _refused_kind(request, Act.REVERSE_REFUND, refund)
        return _act(
            request,
            lambda: services.refund_reverse(
                refund=refund, by=request.user, key=request.POST.get("key", "")
            ),
            f"Refund {refund.number} reversed; its credit is open again.",
            refund,
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


@require_POST
def deposit_cancel_view(request, pk):
    deposit = _get_deposit(pk)
    return _act(
        request,
        lambda: services.deposit_cancel(
            deposit=deposit, by=request.user, key=request.POST.get("key", "")
        ),
        f"Draft deposit {deposit.number} cancelled.",
        deposit,
    )


@require_POST
def deposit_void_view(request, pk):
    deposit = _get_deposit(pk)
    return _act(
        request,
        lambda: services.deposit_void(
            deposit=deposit, by=request.user, key=request.POST.get("key", "")
        ),
        f"Customer Deposit {deposit.number} voided.",
        deposit,
    )


def _get_deposit_refund(pk) -> DepositRefund:
    return get_object_or_404(DepositRefund.objects.select_related("deposit"), pk=pk)


@require_POST
def deposit_refund_reverse_view(request, pk):
    refund = _get_deposit_refund(pk)
    return _act(
        request,
        lambda: services.deposit_refund_reverse(
            refund=refund, by=request.user, key=request.POST.get("key", "")
        ),
        f"Refund of {refund.amount:,.2f} from {refund.deposit.number} reversed.",
        refund.deposit,
    )


def _resent(request) -> bool:
    """A POST whose one-time key was already used: a double click or a re-sent form."""
    return request.method == "POST" and was_used(request.POST.get("key", ""))


def _first_result(request, scope: str):
    """What the request that first used this form's key produced; None (with the reason as
    a message) when the key was used for something else."""
    try:
        result = first_result(request.POST.get("key", ""), scope=scope, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return None
    if result is None:
        messages.error(request, "That form was already used; reload the page and try again.")
    return result
