"""Invoices and credit memos as documents: the Invoices hub (with its exports), the
document page, New Invoice / Edit (through the draft editor), Post, Void and Cancel draft."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from config.listing import FilteredTableView
from invoicing import selectors, services
from invoicing.filters import DocumentFilter
from invoicing.models import Document, DocumentKind
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


# Lines and applications a document page shows at once; more are paged (?lines=2).
SECTION_ROWS = 100


def _section(request, param: str, rows, total: int):
    """The page of `rows` (`total` of them, counted with the document) that `?<param>=`
    asks for, SECTION_ROWS a page, read as a list — no COUNT query of its own."""
    paginator = Paginator(rows, SECTION_ROWS)
    paginator.count = total  # known already: don't count again
    page = paginator.get_page(request.GET.get(param))
    page.object_list = list(page.object_list) if total else []
    page.param = param
    return page


def document_detail_view(request, pk):
    """A document's page at a fixed cost: the document with its section counts in one
    query, then only the sections that have rows — a page of lines and of applications,
    deposit applications, the documents tied to it, its journal, its sends. The policy
    answers the buttons from what was read (`invoicing.policies._known`)."""
    try:
        document = selectors.document_page_get(pk)
    except Document.DoesNotExist:
        raise Http404("No such document.") from None
    lines = _section(request, "lines", selectors.document_lines(document), document.line_count)
    applications = _section(
        request, "applications", selectors.applications_for(document), document.application_count
    )
    deposit_applications = (
        list(selectors.deposit_applications_for_invoice(document))
        if document.deposit_application_count
        else []
    )
    tied = selectors.documents_tied_to(document) if document.related_count else []
    document.tied_documents = tied
    if applications.paginator.num_pages == 1:
        document.known_applications = applications.object_list
    document.known_deposit_applications = deposit_applications
    for app in applications.object_list + deposit_applications:
        app.may_unapply = decide(request.user, Act.UNAPPLY, app).allowed
    for app in applications.object_list:  # the other side of the application
        app.counterpart = app.source if app.target_id == document.pk else app.target
    money_links = [
        d
        for d in tied
        if d.kind in selectors.MONEY_KINDS
        and document.pk in (d.refund_of_id, d.earmarked_for_id, d.prepared_on_id)
    ]
    for link in money_links:  # the page offers Release on a pending refund
        link.acts = {"release": decide(request.user, Act.RELEASE, link).allowed}
    return TemplateResponse(
        request,
        "invoicing/document_detail.html",
        {
            "document": document,
            "acts": actions_for(request.user, document),
            "lines": lines,
            "entries": entries_for_source(document) if document.posting_entry_id else [],
            "nav_section": "payments" if document.is_money else "invoicing",
            "credit_memos": [d for d in tied if d.source_invoice_id == document.pk],
            "applications": applications,
            "money_links": money_links,
            "deposit_applications": deposit_applications,
            "has_deposits": document.has_deposits,
            "sends": None if document.send_count else [],
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
