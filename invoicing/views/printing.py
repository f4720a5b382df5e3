"""What customers receive, on screen and as files: the print view (HTML, the document's own
stylesheet; the browser prints it) and the PDF download of a document or a deposit.

- An issued document (posted, or voided after posting) downloads as its frozen PDF: the
  bytes rendered on first request, identical ever after (ETag = their SHA-256). A void
  document's frozen PDF is still the original as issued.
- `?copy=current` renders now: "Current copy as of <today>" with today's Balance Due /
  Remaining credit (and VOID on a void document).
- Drafts (and pending refunds) always render now, marked DRAFT, and are never stored.

Anyone with a role may print and download (the middleware already refuses a user without
one); a missing object is a 404.
"""

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from config.roles import Action, require
from invoicing import printing, services
from invoicing.models import Deposit
from invoicing.services.printing import read_frozen
from invoicing.views.base import _get_deposit, _get_document


def _wants_current(request) -> bool:
    return request.GET.get("copy") == "current"


def _pdf_response(request, data: bytes, filename: str, *, etag: str | None = None):
    disposition = "inline" if request.GET.get("inline") == "1" else "attachment"
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Content-Length"] = str(len(data))
    response["X-Content-Type-Options"] = "nosniff"
    if etag:
        response["ETag"] = f'"{etag}"'
        response["Cache-Control"] = "private, no-cache"
    else:
        response["Cache-Control"] = "private, no-store"
    return response


def _pdf(request, obj):
    require(request.user, Action.VIEW)
    issued = obj.is_issued
    if issued and not _wants_current(request):
        frozen = services.frozen_pdf(obj, by=request.user)
        etag = f'"{frozen.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
            response["ETag"] = etag
            return response
        return _pdf_response(request, read_frozen(frozen), f"{obj.number}.pdf", etag=frozen.sha256)
    as_of = timezone.localdate() if issued else None
    data = printing.render_pdf(obj, as_of=as_of)
    return _pdf_response(request, data, f"{obj.number}{'-current' if as_of else ''}.pdf")


def _print(request, obj):
    """The print view: a live render (an issued document's says "Current copy as of …",
    since its balance is today's; the PDF button gives the copy as issued)."""
    require(request.user, Action.VIEW)
    as_of = timezone.localdate() if obj.is_issued else None
    namespace = "deposits" if isinstance(obj, Deposit) else "invoicing"
    toolbar = {
        "back": obj.get_absolute_url(),
        "pdf": reverse(f"{namespace}:pdf", args=[obj.pk]),
    }
    html = printing.render_html(obj, request=request, as_of=as_of, toolbar=toolbar)
    response = HttpResponse(html)
    response["Cache-Control"] = "private, no-store"
    return response


def _object_view(respond, get):
    """A GET-only view answering `respond(request, obj)` for the object `get(pk)` finds."""

    @require_GET
    def view(request, pk):
        return respond(request, get(pk))

    return view


document_print_view = _object_view(_print, _get_document)
document_pdf_view = _object_view(_pdf, _get_document)
deposit_print_view = _object_view(_print, _get_deposit)
deposit_pdf_view = _object_view(_pdf, _get_deposit)
