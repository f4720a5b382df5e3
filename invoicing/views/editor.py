"""The draft editor of invoices and credit memos: header form, line rows, live totals.

htmx: typing re-renders the totals (with each row's amount out of band); "+ Add line" and
"×" re-render the rows. Saving creates or updates the draft through the services.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from config.versioning import StaleVersion
from invoicing import selectors, services
from invoicing.forms import LINE_FIELDS, DocumentForm, LineFormSet
from invoicing.models import Document, DocumentKind
from invoicing.policies import require_drafting
from invoicing.pricing import LineAmounts, document_totals, line_amounts

MAX_LINES = 200


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
    require_drafting(request.user)
    page = _EditorPage(request, kind, document)
    if request.method != "POST":
        return page.render(_initial_header(kind, document, customer), _rows_of(document))
    action = request.POST.get("action", "save")
    if action == "add_line" or action.startswith("remove_line"):
        # Adding or removing a row isn't a save: show no errors yet.
        header = DocumentForm(kind=kind, initial=request.POST.dict())
        return page.render(header, _edit_rows(_rows_from_post(request.POST), action), "#lines")
    header = DocumentForm(request.POST, kind=kind)
    formset = LineFormSet(request.POST, prefix="lines")
    if request.htmx and request.htmx.target == "totals":
        return page.respond(header, formset, formset, fragment="#totals", oob=True)
    errors, stale = [], False
    if header.is_valid() and formset.is_valid():
        try:
            document = _save(request, kind, document, header.cleaned_data, formset)
        except ValidationError as exc:
            errors, stale = exc.messages, isinstance(exc, StaleVersion)
        else:
            return redirect(document)
    response = page.respond(header, formset, formset, errors=errors, stale=stale)
    # A save that didn't save: errors are shown beside the fields, the input kept; 409
    # when someone else saved the draft since this page loaded.
    response.status_code = 409 if stale else 400
    return response


def _edit_rows(rows: list[dict], action: str) -> list[dict]:
    """The rows after "+ Add line" or "× (remove line n)"."""
    if action == "add_line" and len(rows) < MAX_LINES:
        rows.append({})
    elif action.startswith("remove_line:"):
        index = action.split(":", 1)[1]
        if index.isdigit() and int(index) < len(rows):
            rows.pop(int(index))
    return rows


def _initial_header(kind, document, customer) -> DocumentForm:
    if document is None:
        return DocumentForm(kind=kind, initial={"customer": customer.pk if customer else None})
    fields = ("date", "billing_terms", "description", "reason", "note", "version")
    initial = {name: getattr(document, name) for name in fields}
    return DocumentForm(kind=kind, initial={"customer": document.customer_id, **initial})


def _rows_of(document) -> list[dict]:
    return _rows_from_document(document) if document is not None else [{}]


def _save(request, kind, document, data, formset) -> Document:
    """Create the draft, or update it; the success message names it."""
    fields = {
        "customer": data["customer"],
        "date": data["date"],
        "billing_terms": data["billing_terms"] or data["customer"].billing_terms,
        "description": data["description"],
        "lines": formset.line_inputs(),
        "by": request.user,
    }
    if document is None:
        document = services.document_create(
            kind=kind,
            reason=data.get("reason", ""),
            note=data.get("note", ""),
            key=request.POST.get("key", ""),
            **fields,
        )
        messages.success(request, f"{document.title} {document.number} saved as a draft.")
        return document
    document = services.document_update_draft(
        document=document,
        reason=data.get("reason"),
        note=data.get("note"),
        expected_version=data.get("version"),
        **fields,
    )
    messages.success(request, f"{document.title} {document.number} saved.")
    return document


def _formset_data(rows: list[dict]) -> dict:
    data = {"lines-TOTAL_FORMS": str(len(rows)), "lines-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for field, value in row.items():
            data[f"lines-{i}-{field}"] = "" if value is None else str(value)
    return data


class _EditorPage:
    """The editor page (or one of its fragments) for one request."""

    template = "invoicing/document_form.html"

    def __init__(self, request, kind, document):
        self.request, self.kind, self.document = request, kind, document

    def render(self, header, rows: list[dict], fragment=""):
        """The page with `rows` as unbound line forms (totals from what parses)."""
        formset = LineFormSet(initial=rows, prefix="lines")
        preview = LineFormSet(_formset_data(rows), prefix="lines")
        return self.respond(
            header, formset, preview, fragment=fragment if self.request.htmx else ""
        )

    def respond(self, header, formset, preview, *, fragment="", errors=(), oob=False, stale=False):
        totals, per_row = _preview_totals(preview)
        return TemplateResponse(
            self.request,
            self.template + fragment,
            {
                "form": header,
                "formset": formset,
                "rows": list(zip(formset.forms, per_row, strict=False)),
                "totals": totals,
                "kind": self.kind,
                "kind_label": DocumentKind(self.kind).label,
                "document": self.document,
                "errors": errors,
                "oob": oob,
                "credit_sources": self._credit_sources(header),
                "stale": stale,
            },
        )

    def _credit_sources(self, header):
        """A new credit memo offers the chosen customer's invoices to credit instead."""
        if self.kind != DocumentKind.CREDIT_MEMO or self.document is not None:
            return None
        customer_id = header["customer"].value()
        if customer_id and str(customer_id).isdigit():
            return selectors.creditable_invoices(int(customer_id))[:20]
        return None
