"""Documents customers receive: one template per kind renders the print view (HTML) and
the PDF (WeasyPrint), styled by one stylesheet, `static/css/documents.css`.

- `print_context(obj)` — everything a printed Invoice, Credit Memo, Payment Receipt,
  Refund Advice or Deposit Receipt shows, for a Document (any kind) or a Deposit.
- `render_html(obj)` — the print view: `templates/invoicing/print/<kind>.html`, which
  links the stylesheet with `{% static %}` and shows a sheet of paper on screen.
- `render_pdf(obj)` — the same template through WeasyPrint. The stylesheet is parsed once
  (per file modification time) and reused with one FontConfiguration for every render:
  parsing the CSS and building a font configuration are most of what a default
  `HTML(...).write_pdf()` spends on a one- or two-page document. Fonts are subset (with
  HarfBuzz when libharfbuzz-subset is installed, which WeasyPrint picks itself).
- `merge_pdfs(pdfs)` — one PDF of several ("Print selected").
- `company_profile()` — the letterhead: the admin-edited CompanyProfile row, else the
  COMPANY_* settings.

Everything printed is text escaped by Django's autoescape; nothing is marked safe.
"""

from __future__ import annotations

import base64
import datetime
import io
import mimetypes
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

from invoicing.models import (
    Application,
    Deposit,
    DocumentKind,
    DocumentStatus,
)
from invoicing.models import (
    Document as ARDocument,
)
from ledger.money import ZERO, format_money

STYLESHEET = "css/documents.css"
TEMPLATE_DIR = "invoicing/print"

TITLES = {
    "invoice": "Invoice",
    "credit_memo": "Credit Memo",
    "payment_receipt": "Payment Receipt",
    "refund_advice": "Refund Advice",
    "deposit_receipt": "Deposit Receipt",
}


# --- the letterhead ------------------------------------------------------------------------


@dataclass(frozen=True)
class CompanyProfile:
    """What the letterhead says about the company."""

    name: str
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    email: str = ""
    logo_path: Path | None = None
    remit_to_lines: tuple[str, ...] = field(default=())

    @property
    def logo_uri(self) -> str:
        """The logo as a file:// URI (the PDF renderer reads it from disk)."""
        return self.logo_path.as_uri() if self.logo_path else ""

    @property
    def logo_data_uri(self) -> str:
        """The logo inlined (the print view: a browser can't read a server path)."""
        if not self.logo_path:
            return ""
        mime = mimetypes.guess_type(self.logo_path.name)[0] or "application/octet-stream"
        data = base64.b64encode(self.logo_path.read_bytes()).decode("ascii")
        return f"data:{mime};base64,{data}"


def _lines(value) -> tuple[str, ...]:
    """Settings give address lines as a list/tuple or as one string with newlines."""
    if not value:
        return ()
    if isinstance(value, str):
        value = value.splitlines()
    return tuple(str(line).strip() for line in value if str(line).strip())


def _logo(value) -> Path | None:
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = Path(settings.BASE_DIR) / path
    return path if path.is_file() else None


def company_profile() -> CompanyProfile:
    """The company's letterhead: the admin-edited `models.CompanyProfile` row (pk 1) when it
    exists, else the settings (COMPANY_NAME, COMPANY_ADDRESS, COMPANY_PHONE, COMPANY_EMAIL,
    COMPANY_LOGO, COMPANY_REMIT_TO). A blank remit-to means the address."""
    from invoicing.models import CompanyProfile as ProfileRow

    row = ProfileRow.objects.filter(pk=1).first()
    if row is not None:
        return CompanyProfile(
            name=row.name,
            address_lines=_lines(row.address),
            phone=row.phone,
            email=row.email,
            logo_path=_logo(row.logo),
            remit_to_lines=_lines(row.remit_to),
        )
    address = _lines(getattr(settings, "COMPANY_ADDRESS", ()))
    return CompanyProfile(
        name=getattr(settings, "COMPANY_NAME", "") or "",
        address_lines=address,
        phone=getattr(settings, "COMPANY_PHONE", "") or "",
        email=getattr(settings, "COMPANY_EMAIL", "") or "",
        logo_path=_logo(getattr(settings, "COMPANY_LOGO", None)),
        remit_to_lines=_lines(getattr(settings, "COMPANY_REMIT_TO", ())),
    )


# --- what a document shows -------------------------------------------------------------------


# A receipt's words: the amount box, the first total row, and what is left.
RECEIPT_LABELS = {
    "payment_receipt": ("Amount received", "Amount received", "Unapplied credit"),
    "deposit_receipt": ("Deposit received", "Deposit", "Remaining deposit"),
}


def _applied_from(doc):
    """The active applications `doc` (a credit: memo, payment) made to invoices, oldest
    first, with the invoice each paid down. (A released refund is paid by an application
    too; refunds are listed from the refunds themselves, `_released_refunds`.)"""
    return (
        Application.objects.filter(source=doc, removed_at__isnull=True)
        .exclude(target__kind=DocumentKind.REFUND)
        .select_related("target")
        .order_by("date", "id")
    )


def _applied_rows(doc) -> list[dict]:
    return [
        {"date": a.date, "number": a.target.number, "title": a.target.title, "amount": a.amount}
        for a in _applied_from(doc)
    ]


def _released_refunds(doc) -> list[dict]:
    refunds = ARDocument.objects.filter(
        kind=DocumentKind.REFUND, refund_of=doc, status=DocumentStatus.POSTED
    ).order_by("date", "id")
    return [
        {
            "date": r.date,
            "number": r.number,
            "method": r.get_method_display(),
            "reference": r.reference,
            "amount": r.amount,
        }
        for r in refunds
    ]


def _quantity(value: Decimal) -> str:
    """1.0000 → "1", 2.5000 → "2.5", 1200 → "1,200"."""
    text = f"{value.normalize():,f}"
    return text


def _kind(obj) -> str:
    if isinstance(obj, Deposit):
        return "deposit_receipt"
    if obj.kind == DocumentKind.PAYMENT:
        return "payment_receipt"
    if obj.kind == DocumentKind.REFUND:
        return "refund_advice"
    if obj.kind == DocumentKind.DEPOSIT:  # not stored as a Document today
        return "deposit_receipt"
    return "credit_memo" if obj.is_credit else "invoice"


def _watermark(obj) -> str | None:
    if obj.status == DocumentStatus.DRAFT:  # a draft, or a refund still pending
        return "DRAFT"
    if obj.status == DocumentStatus.VOID:
        return "VOID"
    return None


def _as_of_label(as_of) -> str | None:
    if as_of is None or as_of == "":
        return None
    if isinstance(as_of, datetime.datetime):
        as_of = as_of.date()
    if isinstance(as_of, datetime.date):
        return as_of.strftime("%m/%d/%Y")
    return str(as_of)


def print_context(obj, *, as_of=None) -> dict:
    """What the printed document shows, for a Document (any kind) or a Deposit.

    Keys: doc, kind, title, company, customer, bill_to (lines), number, date, watermark,
    as_of, and per kind: lines + subtotal/tax_total/grand_total/balance_due (invoice,
    credit memo); reason, source_invoice, applications, refunds, applied_total,
    refunded_total, remaining_credit (credit memo); amount, method, reference,
    applications (payment); refund_of (refund); remaining, applications (deposit)."""
    kind = _kind(obj)
    customer = obj.customer
    context = {
        "doc": obj,
        "kind": kind,
        "title": TITLES[kind],
        "company": company_profile(),
        "customer": customer,
        "bill_to": [customer.billing_contact, *customer.address_lines]
        if customer.billing_contact
        else list(customer.address_lines),
        "number": obj.number,
        "date": obj.date,
        "watermark": _watermark(obj),
        "as_of": _as_of_label(as_of),
        "memo": getattr(obj, "memo", "") or getattr(obj, "note", ""),
    }
    if kind == "deposit_receipt":
        applications = [
            {
                "date": a.date,
                "number": a.invoice.number,
                "title": a.invoice.title,
                "amount": a.amount,
            }
            for a in obj.applications.filter(removed_at__isnull=True)
            .select_related("invoice")
            .order_by("date", "id")
        ]
        context.update(
            amount=obj.amount,
            method=obj.get_method_display(),
            reference=obj.reference,
            applications=applications,
            applied_total=sum((a["amount"] for a in applications), ZERO),
            remaining=obj.remaining if obj.status == DocumentStatus.POSTED else ZERO,
        )
        context.update(labels=RECEIPT_LABELS[kind], rest=context["remaining"])
        return context

    context["description"] = obj.description
    if kind in ("payment_receipt", "refund_advice"):
        context.update(
            amount=obj.amount,
            method=obj.get_method_display(),
            reference=obj.reference,
        )
        if kind == "payment_receipt":
            applications = _applied_rows(obj) if obj.pk else []
            context.update(
                applications=applications,
                applied_total=sum((a["amount"] for a in applications), ZERO),
                unapplied=-obj.balance_due if obj.is_posted else ZERO,
            )
            context.update(labels=RECEIPT_LABELS[kind], rest=context["unapplied"])
        else:
            context["refund_of"] = obj.refund_of
        return context

    lines = list(obj.lines.select_related("item", "tax_profile").order_by("position", "id"))
    for line in lines:
        line.quantity_display = _quantity(line.quantity)
        line.adjustment_display = format_money(line.unit_adjustment, blank_zero=True)
        line.tax_rate_display = f"{line.tax_rate.normalize():f}%" if line.tax_rate else ""
    context.update(
        lines=lines,
        terms=obj.get_billing_terms_display(),
        subtotal=obj.subtotal,
        tax_total=obj.tax_total,
        grand_total=obj.grand_total,
        balance_due=obj.display_balance,
    )
    if kind == "invoice":
        context["due_date"] = obj.due_date
    else:
        applications = _applied_rows(obj)
        refunds = _released_refunds(obj)
        context.update(
            reason=obj.get_reason_display() if obj.reason else "",
            source_invoice=obj.source_invoice,
            applications=applications,
            refunds=refunds,
            applied_total=sum((a["amount"] for a in applications), ZERO),
            refunded_total=sum((r["amount"] for r in refunds), ZERO),
            remaining_credit=max(-obj.display_balance, ZERO)
            if obj.status != DocumentStatus.VOID
            else ZERO,
        )
    return context


# --- rendering ---------------------------------------------------------------------------------


def template_name(obj) -> str:
    return f"{TEMPLATE_DIR}/{_kind(obj)}.html"


def render_html(obj, *, request=None, as_of=None, for_pdf: bool = False, toolbar=None) -> str:
    """The print view's HTML. `for_pdf` leaves out the stylesheet link (the PDF renderer
    passes the parsed stylesheet itself) and points the logo at the file on disk.
    `toolbar` (the print view's on-screen bar: {"back": url, "pdf": url}) never prints."""
    context = print_context(obj, as_of=as_of)
    context["toolbar"] = toolbar
    context["for_pdf"] = for_pdf
    company = context["company"]
    context["logo_src"] = (company.logo_uri if for_pdf else company.logo_data_uri) or ""
    return render_to_string(template_name(obj), context, request=request)


class _Renderer:
    """The parsed stylesheet and the one FontConfiguration every render reuses. Built on
    first use under a lock; the stylesheet is re-parsed when its file changes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._font_config = None
        self._css = None
        self._css_key = None

    def stylesheet_path(self) -> Path:
        found = finders.find(STYLESHEET)
        if not found:
            raise FileNotFoundError(f"static file {STYLESHEET} not found")
        return Path(found)

    def stylesheets(self):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        path = self.stylesheet_path()
        key = (str(path), path.stat().st_mtime_ns)
        if self._css_key == key:
            return self._css, self._font_config
        with self._lock:
            if self._font_config is None:
                self._font_config = FontConfiguration()
            if self._css_key != key:
                self._css = CSS(filename=str(path), font_config=self._font_config)
                self._css_key = key
            return self._css, self._font_config


_renderer = _Renderer()


def base_url() -> str:
    """Where relative URLs in a printed document resolve: the project directory."""
    return Path(settings.BASE_DIR).as_uri() + "/"


def render_pdf(obj, *, as_of=None) -> bytes:
    """The document as PDF bytes."""
    from weasyprint import HTML

    html = render_html(obj, as_of=as_of, for_pdf=True)
    css, font_config = _renderer.stylesheets()
    return HTML(string=html, base_url=base_url()).write_pdf(
        stylesheets=[css], font_config=font_config
    )


def merge_pdfs(pdfs) -> bytes:
    """One PDF of several, in order ("Print selected")."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for data in pdfs:
        writer.append(io.BytesIO(data))
    out = io.BytesIO()
    writer.write(out)
    writer.close()
    return out.getvalue()
