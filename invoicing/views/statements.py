"""Customer statements: the statement page of a customer (open item as of a date, or the
activity of a period) with Print, PDF and Email; Reports → Send statements (a run of
emails to every customer with a balance, its progress polled while the task works).

Anyone with a role views and prints statements; emailing them (one or a run) needs the
role that sends documents (`policies.may_send_statements`). Bad dates come back as
messages next to their field."""

import datetime
import uuid

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.roles import Action, require
from customers.models import Customer
from invoicing.models import SendStatus, StatementKind, StatementRun, StatementSend
from invoicing.policies import may_send_statements, require_statement_sending
from invoicing.selectors.statements import MAX_PERIOD_DAYS, Statement, statement_for
from invoicing.services import statements as service
from invoicing.views.base import _form_page, _submit
from invoicing.views.printing import _pdf_response

DATE = {"widget": forms.DateInput(attrs={"type": "date"})}
EARLIEST = datetime.date(2000, 1, 1)


class StatementForm(forms.Form):
    """Which statement: open item as of a date, or activity over a period."""

    kind = forms.ChoiceField(
        label="Statement", choices=StatementKind.choices, initial=StatementKind.OPEN_ITEM
    )
    as_of = forms.DateField(label="As of / to", required=False, help_text="Blank: today", **DATE)
    start = forms.DateField(
        label="From", required=False, help_text="Activity: the period's first day", **DATE
    )

    def clean_as_of(self):
        as_of = self.cleaned_data.get("as_of") or timezone.localdate()
        if as_of < EARLIEST or as_of > timezone.localdate() + datetime.timedelta(days=366):
            raise forms.ValidationError("Enter a date between 2000 and a year from now.")
        return as_of

    def clean(self):
        data = super().clean()
        kind, end, start = data.get("kind"), data.get("as_of"), data.get("start")
        if kind == StatementKind.ACTIVITY and end is not None:
            if start is None and not self.has_error("start"):
                start = end.replace(day=1)  # blank: the month of the end date
                data["start"] = start
            if start is not None:
                if start > end:
                    self.add_error("start", "The period starts on or before its last day.")
                elif (end - start).days > MAX_PERIOD_DAYS:
                    self.add_error("start", f"A period covers at most {MAX_PERIOD_DAYS} days.")
                elif start < EARLIEST:
                    self.add_error("start", "Enter a date from 2000 on.")
        if kind == StatementKind.OPEN_ITEM:
            data["start"] = None
        return data

    def query(self) -> str:
        d = self.cleaned_data
        parts = [f"kind={d['kind']}", f"as_of={d['as_of'].isoformat()}"]
        if d.get("start"):
            parts.append(f"start={d['start'].isoformat()}")
        return "?" + "&".join(parts)


class StatementEmailForm(StatementForm):
    to = forms.CharField(
        label="To",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One address per line, or separated by commas.",
    )
    cc = forms.CharField(label="Cc", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    subject = forms.CharField(max_length=255)
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)


def _customer(pk) -> Customer:
    return get_object_or_404(Customer, pk=pk)


def _statement(form: StatementForm, customer) -> Statement:
    d = form.cleaned_data
    return statement_for(customer, d["kind"], d["as_of"], d.get("start"))


def _chosen(request) -> StatementForm:
    """The statement form from the query string (today's open items when it is empty)."""
    return StatementForm(request.GET or {"kind": StatementKind.OPEN_ITEM})


@require_GET
def statement_view(request, pk):
    """The statement page: the form, the statement, and Print / PDF / Email."""
    require(request.user, Action.VIEW)
    customer = _customer(pk)
    form = _chosen(request)
    context = {
        "customer": customer,
        "form": form,
        "may_send": may_send_statements(request.user),
        "nav_section": "customers",
        "sends": StatementSend.objects.filter(customer=customer).select_related("created_by")[:20],
    }
    if form.is_valid():
        context |= {"statement": _statement(form, customer), "query": form.query()}
    return TemplateResponse(request, "invoicing/statements/statement.html", context)


def _invalid(request, customer, form):
    """A print or PDF link with bad dates: the statement page with the messages."""
    context = {"customer": customer, "form": form, "nav_section": "customers"}
    context["may_send"] = may_send_statements(request.user)
    return TemplateResponse(request, "invoicing/statements/statement.html", context, status=400)


@require_GET
def statement_print_view(request, pk):
    require(request.user, Action.VIEW)
    customer = _customer(pk)
    form = _chosen(request)
    if not form.is_valid():
        return _invalid(request, customer, form)
    page = reverse("customers:statement", args=[customer.pk]) + form.query()
    toolbar = {"back": page, "pdf": reverse("customers:statement_pdf", args=[pk]) + form.query()}
    html = service.render_statement_html(
        _statement(form, customer), request=request, toolbar=toolbar
    )
    response = HttpResponse(html)
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def statement_pdf_view(request, pk):
    require(request.user, Action.VIEW)
    customer = _customer(pk)
    form = _chosen(request)
    if not form.is_valid():
        return _invalid(request, customer, form)
    statement = _statement(form, customer)
    data = service.render_statement_pdf(statement)
    return _pdf_response(request, data, service.statement_filename(statement))


def statement_email_view(request, pk):
    """Email statement: the form pre-filled for the chosen statement; sent, it queues the
    email (the task renders and sends it)."""
    require_statement_sending(request.user)
    customer = _customer(pk)
    back = reverse("customers:statement", args=[customer.pk])
    if request.method == "POST":
        form = StatementEmailForm(request.POST)
    else:
        chosen = _chosen(request)
        initial = {"key": uuid.uuid4().hex, "kind": StatementKind.OPEN_ITEM}
        if chosen.is_valid():
            data = chosen.cleaned_data
            initial |= service.statement_email_defaults(_statement(chosen, customer))
            initial |= {k: data[k] for k in ("kind", "as_of", "start")}
            back += chosen.query()
        form = StatementEmailForm(initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        send = _submit(
            request,
            form,
            lambda: service.statement_email(
                customer=customer,
                kind=d["kind"],
                statement_date=d["as_of"],
                period_start=d.get("start"),
                to=d["to"],
                cc=d["cc"],
                subject=d["subject"],
                message=d["message"],
                by=request.user,
                key=d["key"],
            ),
        )
        if send is not None:
            _outcome(request, send)
            return redirect(reverse("customers:statement", args=[customer.pk]) + form.query())
    return _form_page(
        request,
        "invoicing/statements/email.html",
        {"form": form, "customer": customer, "back": back, "nav_section": "customers"},
        sent=request.method == "POST",
    )


def _outcome(request, send) -> None:
    """What became of the send by the time the page answers (queued with a worker)."""
    send.refresh_from_db()
    to = ", ".join(send.recipients)
    if send.status == SendStatus.SENT:
        messages.success(request, f"Statement emailed to {to}.")
    elif send.status == SendStatus.FAILED:
        messages.error(request, f"Emailing the statement to {to} failed: {send.error}")
    else:
        messages.success(request, f"Statement queued to be emailed to {to}.")


# --- Reports → Send statements ---------------------------------------------------------------


class SendStatementsForm(StatementForm):
    customer = forms.CharField(
        label="Customer",
        required=False,
        max_length=100,
        help_text="Blank: every customer with a balance; else a code or part of the name",
    )
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)


def send_statements_view(request):
    """Send statements: the form, and (sent) a run started, its progress page next."""
    require_statement_sending(request.user)
    if request.method == "POST":
        form = SendStatementsForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            run = _submit(
                request,
                form,
                lambda: service.statements_run_start(
                    kind=d["kind"],
                    statement_date=d["as_of"],
                    period_start=d.get("start"),
                    customer_search=d["customer"].strip(),
                    by=request.user,
                    key=d["key"],
                ),
            )
            if run is not None:
                return redirect("reports:statement_run", pk=run.pk)
    else:
        form = SendStatementsForm(
            initial={"key": uuid.uuid4().hex, "kind": StatementKind.OPEN_ITEM}
        )
    runs = StatementRun.objects.select_related("created_by")[:10]
    return _form_page(
        request,
        "invoicing/statements/send.html",
        {"form": form, "runs": runs, "nav_section": "reports"},
        sent=request.method == "POST",
    )


@require_GET
def statement_run_view(request, pk):
    """A run's progress and its result per customer; htmx polls the partial while the task
    works."""
    require_statement_sending(request.user)
    run = StatementRun.objects.filter(pk=pk).select_related("created_by").first()
    if run is None:
        raise Http404("No such run.")
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    for result in run.results:
        counts[result.get("outcome", "failed")] = counts.get(result.get("outcome"), 0) + 1
    context = {
        "run": run,
        "counts": counts,
        "finished": run.status in (StatementRun.Status.DONE, StatementRun.Status.FAILED),
        "percent": int(run.done * 100 / run.total) if run.total else 100,
        "nav_section": "reports",
    }
    template = "invoicing/statements/run.html"
    if request.htmx:
        template += "#progress"
    return TemplateResponse(request, template, context)
