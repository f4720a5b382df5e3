"""Documents customers receive (issue 12, items 1 and 7): one template per kind renders the
print view and the PDF. The PDF's text is read back with pypdf."""

import datetime
import io
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoicing import printing, services
from invoicing.models import CreditReason, DocumentKind, DocumentStatus
from tests.factories import (
    CustomerFactory,
    item,
    line,
    make_invoice,
    posted_deposit,
    posted_invoice,
    tax,
)

pytestmark = pytest.mark.django_db
D = Decimal
DAY = datetime.date(2026, 11, 10)
HOSTILE = "<script>alert(1)</script> A & B Ünïcødé"


def pdf_pages(obj, **kwargs) -> list[str]:
    data = printing.render_pdf(obj, **kwargs)
    assert data.startswith(b"%PDF")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(obj, **kwargs) -> str:
    return "\n".join(pdf_pages(obj, **kwargs))


def flat(text: str) -> str:
    """Text with its line breaks and runs of spaces as single spaces (a wrapped
    description comes back over several lines)."""
    return re.sub(r"\s+", " ", text)


def described(desc, *, code="PRT", qty="1", price="100.00"):
    return services.LineInput(
        item=item(code),
        quantity=D(qty),
        unit_price=D(price),
        tax_profile=tax(),
        description=desc,
    )


def memo_with_lines(customer, rep, poster, descriptions, **fields):
    memo = services.document_create(
        kind=DocumentKind.CREDIT_MEMO,
        customer=customer,
        date=DAY,
        lines=[described(d, code="SVC", price="108.25") for d in descriptions],
        by=rep,
        **fields,
    )
    return services.document_post(document=memo, by=poster)


# --- credit memo ------------------------------------------------------------------------


def test_posted_credit_memo_pdf_shows_what_the_customer_needs(rep, poster, customer):
    invoice = posted_invoice(customer, "2000.00", by=rep, post_by=poster)
    descriptions = [f"Returned part number {i}" for i in range(1, 11)]
    memo = memo_with_lines(
        customer,
        rep,
        poster,
        descriptions,
        reason=CreditReason.RETURN,
        source_invoice=invoice,
    )
    assert memo.grand_total == D("-1082.50")
    text = pdf_text(memo)
    flat_text = flat(text)
    assert "Credit Memo" in text
    assert memo.number in text
    assert customer.name in text
    for description in descriptions:
        assert description in flat_text
    assert "-1,082.50" in text
    assert "Remaining credit" in text
    assert "1,082.50" in text.split("Remaining credit", 1)[1]
    assert "Return" in text and invoice.number in text
    assert "Page 1 of 1" in text


def test_credit_memo_context_tracks_applications_and_refunds(rep, poster, poster2, customer):
    memo = memo_with_lines(customer, rep, poster, ["Goodwill credit"] * 4)  # -433.00
    invoice = posted_invoice(customer, "100.00", by=rep, post_by=poster)
    services.credit_apply(
        source=memo, allocations=[services.Allocation(invoice, D("100.00"))], by=poster, date=DAY
    )
    refund = services.refund_prepare(
        document=memo, by=rep, amount=D("50.00"), method="check", date=DAY, reference="1042"
    )
    services.refund_release(refund=refund, by=poster2, date=DAY)
    memo.refresh_from_db()
    context = printing.print_context(memo)
    assert context["title"] == "Credit Memo"
    assert context["applied_total"] == D("100.00")
    assert [a["number"] for a in context["applications"]] == [invoice.number]
    assert context["refunded_total"] == D("50.00")
    assert [r["number"] for r in context["refunds"]] == [refund.number]
    assert context["remaining_credit"] == -memo.balance_due > 0
    text = pdf_text(memo)
    assert refund.number in text and "Refunded" in text and invoice.number in text


def test_hostile_text_is_printed_literally_and_escaped_in_html(rep, poster):
    customer = CustomerFactory(name=HOSTILE)
    invoice = make_invoice(customer=customer, by=rep, post_by=poster, lines=[described(HOSTILE)])
    html = printing.render_html(invoice)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; A &amp; B Ünïcødé" in html
    text = flat(pdf_text(invoice))
    assert text.count(HOSTILE) >= 2  # bill-to and the line


def test_draft_is_marked_draft_and_void_is_marked_void(rep, poster, customer):
    draft = make_invoice(customer=customer, by=rep)
    assert printing.print_context(draft)["watermark"] == "DRAFT"
    assert "DRAFT" in pdf_text(draft)
    posted = make_invoice(customer=customer, by=rep, post_by=poster)
    assert printing.print_context(posted)["watermark"] is None
    assert "DRAFT" not in pdf_text(posted)
    void = services.document_void(document=posted, by=poster, date=DAY)
    assert void.status == DocumentStatus.VOID
    assert "VOID" in pdf_text(void)


def test_300_line_invoice_paginates_with_repeated_headers(rep, poster, customer):
    descriptions = [f"Item {i:03d} " + "long description wraps " * (i % 4) for i in range(300)]
    invoice = make_invoice(
        customer=customer,
        by=rep,
        post_by=poster,
        lines=[described(d, price="1.00") for d in descriptions],
    )
    pages = pdf_pages(invoice)
    total = len(pages)
    assert total > 1
    assert f"Page 1 of {total}" in pages[0]
    assert f"Page {total} of {total}" in pages[-1]
    for page in pages:
        assert "DESCRIPTION" in page.upper() and "UNIT PRICE" in page.upper()
    text = flat("\n".join(pages))
    for i in range(300):
        assert len(re.findall(rf"\bItem {i:03d}\b", text)) == 1, i
    assert "Balance Due" in pages[-1]


def test_invoice_with_a_negative_total_is_titled_credit_memo(rep, poster, customer):
    invoice = make_invoice(
        customer=customer,
        by=rep,
        post_by=poster,
        lines=[line("PRT", "1", "100.00"), line("PRT", "-1", "250.00")],
    )
    assert invoice.kind == DocumentKind.INVOICE and invoice.grand_total < 0
    assert printing.template_name(invoice).endswith("credit_memo.html")
    text = pdf_text(invoice)
    assert "Credit Memo" in text and "Invoice" not in text.split("\n", 3)[0]


# --- money documents ----------------------------------------------------------------------


def test_payment_receipt(rep, poster, customer):
    invoice = posted_invoice(customer, "300.00", by=rep, post_by=poster)
    payment = services.payment_record(
        customer=customer,
        date=DAY,
        method="check",
        amount=D("500.00"),
        reference="7781",
        allocations=[services.Allocation(invoice, D("300.00"))],
        by=rep,
    )
    payment = services.document_post(document=payment, by=poster)
    context = printing.print_context(payment)
    assert context["title"] == "Payment Receipt" and context["watermark"] is None
    assert context["applied_total"] == D("300.00") and context["unapplied"] == D("200.00")
    text = pdf_text(payment)
    assert "Payment Receipt" in text and payment.number in text
    assert "7781" in text and "500.00" in text and invoice.number in text


def test_refund_advice(rep, poster, poster2, customer):
    memo = memo_with_lines(customer, rep, poster, ["Credit"])
    refund = services.refund_prepare(
        document=memo, by=rep, amount=D("40.00"), method="check", date=DAY
    )
    assert "DRAFT" in pdf_text(refund)  # pending
    refund = services.refund_release(refund=refund, by=poster2, date=DAY)
    text = pdf_text(refund)
    assert "Refund Advice" in text and refund.number in text
    assert "40.00" in text and memo.number in text and "DRAFT" not in text


def test_deposit_receipt(rep, poster, customer):
    deposit = posted_deposit(customer, "750.00", by=rep, post_by=poster)
    context = printing.print_context(deposit)
    assert context["title"] == "Deposit Receipt" and context["remaining"] == D("750.00")
    text = pdf_text(deposit)
    assert "Deposit Receipt" in text and deposit.number in text and "750.00" in text


def test_html_view_links_the_stylesheet_and_as_of_label(rep, poster, customer):
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    html = printing.render_html(invoice, as_of=datetime.date(2026, 12, 1))
    assert "css/documents.css" in html
    assert "Current copy as of 12/01/2026" in html
    assert "css/documents.css" not in printing.render_html(invoice, for_pdf=True)


def one_pixel_png(directory):
    """A 1×1 PNG file to stand in for a logo."""
    logo = directory / "logo.png"
    logo.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
        )
    )
    return logo


def test_company_profile_from_settings(settings, tmp_path):
    logo = one_pixel_png(tmp_path)
    settings.COMPANY_NAME = "Acme & Sons"
    settings.COMPANY_ADDRESS = "1 Main St\nSpringfield, IL 62701"
    settings.COMPANY_PHONE = "555-0100"
    settings.COMPANY_EMAIL = "ar@acme.test"
    settings.COMPANY_LOGO = str(logo)
    settings.COMPANY_REMIT_TO = ["Acme Lockbox", "PO Box 9"]
    profile = printing.company_profile()
    assert profile.address_lines == ("1 Main St", "Springfield, IL 62701")
    assert profile.logo_path == logo and profile.logo_data_uri.startswith("data:image/png")
    assert profile.remit_to_lines == ("Acme Lockbox", "PO Box 9")


def test_letterhead_with_logo_renders(rep, poster, customer, settings, tmp_path):
    logo = one_pixel_png(tmp_path)
    settings.COMPANY_NAME = "Acme & Sons"
    settings.COMPANY_LOGO = str(logo)
    settings.COMPANY_REMIT_TO = "Acme Lockbox\nPO Box 9"
    invoice = make_invoice(customer=customer, by=rep, post_by=poster)
    data = printing.render_pdf(invoice)
    reader = PdfReader(io.BytesIO(data))
    text = reader.pages[0].extract_text()
    assert "Acme & Sons" in text and "Acme Lockbox" in text and "Remit to".upper() in text.upper()
    assert reader.pages[0].images  # the logo


def test_merge_pdfs(rep, poster, customer):
    one = make_invoice(customer=customer, by=rep, post_by=poster)
    two = posted_deposit(customer, "10.00", by=rep, post_by=poster)
    merged = PdfReader(
        io.BytesIO(printing.merge_pdfs([printing.render_pdf(one), printing.render_pdf(two)]))
    )
    assert len(merged.pages) == 2
    assert one.number in merged.pages[0].extract_text()
    assert two.number in merged.pages[1].extract_text()
