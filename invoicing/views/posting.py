"""The "To post" queue: drafts waiting for a Poster, and "Post selected" — the checked
drafts posted together in one transaction (invoicing.services.posting.documents_post_batch),
all or nothing, with the reason for each draft that held the batch back."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from config.roles import Action, require
from invoicing.models import Document, DocumentKind, DocumentStatus
from invoicing.services.posting import MAX_BATCH, BatchRefused, documents_post_batch

PAGE_SIZES = (25, 100, 500)  # a form of 500 checkboxes stays under DATA_UPLOAD_MAX_NUMBER_FIELDS


def _drafts():
    """Drafts a Poster posts from here (refunds are released from their own page)."""
    return (
        Document.objects.filter(status=DocumentStatus.DRAFT)
        .exclude(kind=DocumentKind.REFUND)
        .select_related("customer")
        .order_by("date", "pk")
    )


def _selection(post) -> tuple[list[int], dict[int, int], bool]:
    """The checked drafts as ids and {id: version shown}; `bad` when a value is garbled."""
    ids, versions, bad = [], {}, False
    for value in post.getlist("documents"):
        pk, _, version = value.partition(":")
        if not pk.isdigit() or (version and not version.isdigit()):
            bad = True
            continue
        ids.append(int(pk))
        if version:
            versions[int(pk)] = int(version)
    return ids, versions, bad


def post_queue_view(request):
    """GET: the drafts, oldest first, a page at a time, each with the totals its entry
    will post. POST: "Post selected"."""
    require(request.user, Action.POST)  # a 403 for anyone who may not post
    failures = []
    if request.method == "POST":
        ids, versions, bad = _selection(request.POST)
        if bad:
            messages.error(request, "The selection was garbled; reload the page and try again.")
            return redirect("invoicing:post_queue")
        try:
            batch = documents_post_batch(
                documents=ids,
                versions=versions,
                by=request.user,
                key=request.POST.get("key", ""),
            )
        except BatchRefused as exc:
            messages.error(request, " ".join(exc.messages))
            failures = exc.failures
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("invoicing:post_queue")
        else:
            total = sum((d.grand_total for d in batch.posted), Decimal(0))
            count = len(batch.posted)
            what = "draft" if count == 1 else "drafts"
            if batch.replayed:
                messages.info(
                    request, f"This form was already sent: {count:,} {what} were posted then."
                )
            else:
                messages.success(request, f"Posted {count:,} {what}, {total:,.2f} in all.")
            for note in batch.notes:
                messages.warning(request, note)
            return redirect("invoicing:post_queue")
    try:
        per_page = int(request.GET.get("per_page", 100))
    except ValueError:
        per_page = 100
    per_page = per_page if per_page in PAGE_SIZES else 100
    drafts = _drafts()
    page = Paginator(drafts, per_page).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    totals = {
        "subtotal": sum((d.subtotal for d in rows), Decimal(0)),
        "tax_total": sum((d.tax_total for d in rows), Decimal(0)),
        "grand_total": sum((d.grand_total for d in rows), Decimal(0)),
    }
    context = {
        "page": page,
        "rows": rows,
        "totals": totals,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "max_batch": MAX_BATCH,
        "failures": failures,
        "nav_section": "post_queue",
    }
    return TemplateResponse(
        request, "invoicing/post_queue.html", context, status=400 if failures else 200
    )
