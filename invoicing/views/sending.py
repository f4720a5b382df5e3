"""Sending documents to customers: the Email form of a posted document or deposit, and the
To Be Sent list with "Email selected" (its progress polled while the tasks run) and
"Print selected" (one merged PDF)."""

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from config.listing import FilteredTableView
from config.roles import require, user_may
from invoicing import selectors, services
from invoicing.filters import ToBeSentFilter
from invoicing.forms import EmailDocumentForm
from invoicing.models import Deposit, SendStatus
from invoicing.policies import ROLE_FOR, Act
from invoicing.tables import ToBeSentTable
from invoicing.views.base import (
    _answer_or_refuse,
    _form_page,
    _get_deposit,
    _get_document,
    _submit,
)

# --- the Email form ------------------------------------------------------------------------


def _queued_message(send) -> str:
    """A re-sent Email form: what the first one did."""
    number = (send.document or send.deposit).number
    to = ", ".join(send.recipients)
    return f"That form was already sent: {number} to {to} ({send.get_status_display()})."


def _outcome(request, send) -> None:
    """What became of a send by the time the page answers: with a worker it is queued;
    with the immediate backend it is already sent or failed."""
    send.refresh_from_db()
    number = (send.document or send.deposit).number
    to = ", ".join(send.recipients)
    if send.status == SendStatus.SENT:
        messages.success(request, f"{number} emailed to {to}.")
    elif send.status == SendStatus.FAILED:
        messages.error(request, f"Emailing {number} to {to} failed: {send.error}")
    else:
        messages.success(request, f"{number} queued to be emailed to {to}.")


def _email_page(request, obj):
    answer = _answer_or_refuse(request, Act.SEND, obj, "document_email", _queued_message, obj)
    if answer is not None:
        return answer
    form = EmailDocumentForm(
        request.POST or None, initial={**services.email_defaults(obj), "key": uuid.uuid4().hex}
    )
    if request.method == "POST" and form.is_valid():
        send = _submit(
            request,
            form,
            lambda: services.document_email(obj=obj, by=request.user, **form.cleaned_data),
        )
        if send is not None:
            _outcome(request, send)
            return redirect(obj)
    return _form_page(
        request,
        "invoicing/document_email.html",
        {
            "form": form,
            "obj": obj,
            "title": services.document_title(obj),
            "nav_section": _section(obj),
        },
        sent=request.method == "POST",
    )


def _section(obj) -> str:
    if isinstance(obj, Deposit):
        return "deposits"
    return "payments" if obj.is_money else "invoicing"


def document_email_view(request, pk):
    """Email a posted invoice, credit memo, payment receipt or refund advice."""
    return _email_page(request, _get_document(pk))


def deposit_email_view(request, pk):
    """Email a posted deposit's receipt."""
    return _email_page(request, _get_deposit(pk))


# --- To Be Sent --------------------------------------------------------------------------------


class ToBeSentView(FilteredTableView):
    """Posted documents not yet sent the customer's way (deposits are sent from their own
    page), with checkboxes for Email selected and Print selected."""

    table_class = ToBeSentTable
    filterset_class = ToBeSentFilter
    template_name = "invoicing/to_be_sent.html"
    selector = staticmethod(selectors.to_be_sent)
    export_name = "to-be-sent"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["nav_section"] = "to_be_sent"
        context["may_send"] = user_may(self.request.user, ROLE_FOR[Act.SEND])
        return context


to_be_sent_view = ToBeSentView.as_view()


def _selection(request):
    """The ticked documents (at most BATCH_LIMIT: a batch is sent or printed in one request)
    and the form's key."""
    require(request.user, ROLE_FOR[Act.SEND])
    ids = request.POST.getlist("ids")
    if len(ids) > selectors.BATCH_LIMIT:
        raise TooMany(f"Tick at most {selectors.BATCH_LIMIT} documents at a time.")
    return selectors.sendable_documents(ids), request.POST.get("key", "")


class TooMany(Exception):
    """More documents ticked than one request may send or print."""


def _batch_key(key: str, channel: str, pk: int) -> str:
    """One form key per document of a batch: a re-sent batch is done once per document."""
    return f"{key}.{channel}{pk}" if key else ""


def _progress(request, ids, *, skipped=(), problems=(), status=200):
    context = {**selectors.send_progress(ids), "skipped": skipped, "problems": problems}
    return TemplateResponse(request, "invoicing/to_be_sent.html#progress", context, status=status)


@require_POST
def to_be_sent_email_view(request):
    """Email selected: one send per selected document to its customer's billing email,
    with the default subject and message. Answers with the progress panel (htmx) or, for
    a plain form post, with messages back on the list."""
    try:
        documents, key = _selection(request)
    except TooMany as exc:
        if not request.htmx:
            messages.error(request, str(exc))
            return redirect("invoicing:to_be_sent")
        return _progress(request, [], problems=[str(exc)])
    sends, skipped, problems = [], [], []
    for document in documents:
        if not document.customer.email:
            skipped.append(f"{document.number} ({document.customer.name} has no billing email)")
            continue
        draft = services.email_defaults(document)
        try:
            sends.append(
                services.document_email(
                    obj=document,
                    by=request.user,
                    key=_batch_key(key, "e", document.pk),
                    to=draft["to"],
                    cc="",
                    subject=draft["subject"],
                    message=draft["message"],
                )
            )
        except ValidationError as exc:
            problems.append(f"{document.number}: {' '.join(exc.messages)}")
    if not request.htmx:
        if not documents:
            messages.error(request, "Tick the documents to email first.")
        if sends:
            messages.success(request, f"{len(sends)} email(s) queued.")
        for text in [*(f"Skipped {s}." for s in skipped), *problems]:
            messages.error(request, text)
        return redirect("invoicing:to_be_sent")
    if not documents:
        problems.append("Tick the documents to email first.")
    return _progress(request, [s.pk for s in sends], skipped=skipped, problems=problems)


@require_GET
def to_be_sent_progress_view(request):
    """The progress panel of a batch (`?ids=1,2,3`): it polls itself while any is queued."""
    return _progress(request, request.GET.get("ids", "").split(","))


@require_POST
def to_be_sent_print_view(request):
    """Print selected: every selected document recorded as printed and one PDF of their
    frozen PDFs, in list order."""
    try:
        documents, key = _selection(request)
    except TooMany as exc:
        messages.error(request, str(exc))
        return redirect("invoicing:to_be_sent")
    printed = []
    for document in documents:
        try:
            services.document_print(
                obj=document, by=request.user, key=_batch_key(key, "p", document.pk)
            )
        except ValidationError as exc:
            messages.error(request, f"{document.number}: {' '.join(exc.messages)}")
        else:
            printed.append(document)
    if not printed:
        if not documents:
            messages.error(request, "Tick the documents to print first.")
        return redirect("invoicing:to_be_sent")
    response = HttpResponse(
        services.printed_pdf(printed, by=request.user), content_type="application/pdf"
    )
    name = f"to-be-sent-{timezone.localdate():%Y-%m-%d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
