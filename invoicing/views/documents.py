"""Invoices and credit memos as documents: the Invoices hub (with its exports), the
document page, New Invoice / Edit (through the draft editor), Post, Void and Cancel draft."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from config.listing import FilteredTableView
from invoicing import selectors, services
from invoicing.filters import DocumentFilter
from invoicing.models import DocumentKind
from invoicing.policies import Act, actions_for, decide, edits_from_invoice
from invoicing.tables import DocumentTable
from invoicing.views.base import (
    _button,
    _customer_from_query,
    _get_document,
    _refused,
    _refused_kind,
)
from invoicing.views.credit_memos import _credit_from_invoice
from invoicing.views.editor import _editor
from ledger.selectors import entries_for_source


class DocumentListView(FilteredTableView):
    """The Invoices hub: invoices and credits together."""

    table_class = DocumentTable
    filterset_class = DocumentFilter
    template_name = "invoicing/document_list.html"

    def get_queryset(self):
        return selectors.hub_documents()

    @property
    def export_name(self):
        return "credits" if self.request.GET.get("type") == "credits" else "invoices"


def document_detail_view(request, pk):
    document = _get_document(pk)
    applications = list(selectors.applications_for(document))
    deposit_applications = list(selectors.deposit_applications_for_invoice(document))
    for app in applications + deposit_applications:
        app.may_unapply = decide(request.user, Act.UNAPPLY, app).allowed
    for app in applications:  # the other side of the application
        app.counterpart = app.source if app.target_id == document.pk else app.target
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


def document_create_view(request):
    return _editor(request, kind=DocumentKind.INVOICE, customer=_customer_from_query(request))


def document_edit_view(request, pk):
    document = _get_document(pk)
    refused = _refused(request, Act.EDIT, document)
    if refused is not None:
        return refused
    if edits_from_invoice(document):
        return _credit_from_invoice(request, invoice=document.source_invoice, memo=document)
    return _editor(request, kind=document.kind, document=document)


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


document_cancel_view = _button(
    _get_document,
    services.document_cancel_draft,
    "document",
    "Draft {obj.number} cancelled.",
    act=Act.CANCEL,
)
