"""Issue 13 in Chromium: no Content-Security-Policy violation on any main screen, and
two-factor enrolment and sign-in with a code computed by the test."""

import base64
import re

import pytest
from django.core.management import call_command
from django.test import override_settings
from django_otp.oath import TOTP
from playwright.sync_api import expect

from customers.models import Customer
from invoicing.models import Deposit, Document, DocumentKind
from tests.e2e.conftest import POSTER_PASSWORD, log_in, log_out
from tests.factories import make_user

pytestmark = pytest.mark.e2e

# Records every violation the page reports, before any of the page's own scripts run.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


def watch_csp(page):
    console = []
    page.add_init_script(CSP_LISTENER)
    page.on(
        "console",
        lambda msg: (
            console.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    return console


def main_screens():
    customer = Customer.objects.order_by("id").first()
    screens = [
        "/invoices/",
        "/invoices/?type=credits",
        "/invoices/new/",
        "/invoices/new-credit-memo/",
        "/invoices/to-be-sent/",
        "/payments/",
        "/payments/new/",
        "/deposits/",
        "/deposits/new/",
        "/customers/",
        "/customers/new/",
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/edit/",
        "/account/",
        "/account/password/",
    ]
    for kind in DocumentKind.values:
        doc = Document.objects.filter(kind=kind).order_by("-id").first()
        if doc is not None:
            screens += [f"/invoices/{doc.pk}/", f"/invoices/{doc.pk}/print/"]
    invoice = Document.objects.filter(kind=DocumentKind.INVOICE, status="posted").first()
    credit = Document.objects.filter(kind=DocumentKind.CREDIT_MEMO, status="posted").first()
    draft = Document.objects.filter(kind=DocumentKind.INVOICE, status="draft").first()
    if draft:
        screens += [f"/invoices/{draft.pk}/edit/", f"/invoices/{draft.pk}/post/"]
    if invoice:
        screens += [
            f"/invoices/{invoice.pk}/payment-or-refund/",
            f"/invoices/{invoice.pk}/apply-deposit/",
            f"/invoices/{invoice.pk}/email/",
        ]
    if credit:
        screens += [f"/invoices/{credit.pk}/apply/", f"/invoices/{credit.pk}/payment-or-refund/"]
    deposit = Deposit.objects.order_by("-id").first()
    if deposit:
        screens += [f"/deposits/{deposit.pk}/", f"/deposits/{deposit.pk}/print/"]
    return screens


def test_no_csp_violation_on_any_main_screen(page, poster_user):
    call_command("seed_demo", verbosity=0)
    console = watch_csp(page)
    log_in(page, poster_user.username, POSTER_PASSWORD)
    screens = main_screens()
    assert len(screens) > 25
    seen = []
    for url in screens:
        response = page.goto(url)
        assert response.status == 200, url
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        violations = page.evaluate("window.__cspViolations")
        seen.append((url, violations))
    # htmx ran (it powers the filters) without inline styles or eval: type a filter.
    page.goto("/invoices/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof htmx") == "object"
    # The accountants' admin too.
    log_out(page)
    accountant = make_user("Accountant", "csp-accountant")
    accountant.set_password(POSTER_PASSWORD)
    accountant.save()
    log_in(page, accountant.username, POSTER_PASSWORD)
    for url in [
        "/admin/",
        "/admin/ledger/account/",
        "/admin/ledger/journalentry/",
        "/admin/ledger/auditevent/",
        "/admin/axes/accessattempt/",
        "/admin/otp_totp/totpdevice/",
        "/admin/invoicing/item/add/",
        "/admin/invoicing/companyprofile/",
    ]:
        response = page.goto(url)
        assert response.status == 200, url
        page.wait_for_load_state("networkidle")
        seen.append((url, page.evaluate("window.__cspViolations")))
    bad = [(url, v) for url, v in seen if v]
    assert bad == [], bad
    assert console == [], console


def test_payment_or_refund_switch_still_works_without_inline_handlers(page, poster_user):
    call_command("seed_demo", verbosity=0)
    console = watch_csp(page)
    log_in(page, poster_user.username, POSTER_PASSWORD)
    credit = Document.objects.filter(kind=DocumentKind.CREDIT_MEMO, status="posted").first()
    page.goto(f"/invoices/{credit.pk}/payment-or-refund/?type=refund")
    expect(page.get_by_role("radio", name="Refund")).to_be_checked()
    # Choosing the other type submits the little GET form (static/js/desk.js).
    with page.expect_navigation():
        page.get_by_role("radio", name="Payment").check()
    expect(page).to_have_url(re.compile(r"type=payment"))
    assert page.evaluate("window.__cspViolations") == [] and console == []


def code_from_key(spaced_key: str, drift: int = 0) -> str:
    key = base64.b32decode(spaced_key.replace(" ", ""))
    return f"{TOTP(key, drift=drift).token():06d}"


@override_settings(TWO_FACTOR_REQUIRED=True, TWO_FACTOR_EXEMPT_USERS=[])
def test_enrol_sign_out_and_sign_in_with_a_code(page, poster_user):
    Customer.objects.create(code="TF1", name="Two Factor Supply", billing_terms="net_30")
    page.goto("/login/")
    page.fill("#id_username", poster_user.username)
    page.fill("#id_password", POSTER_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    # A Poster must enrol before anything else.
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    page.goto("/customers/")
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    qr = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 100  # the server's SVG really renders
    key = page.locator("#totp-key").inner_text()
    page.get_by_label("Code", exact=True).fill(code_from_key(key))
    with page.expect_navigation():
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("I have saved them")).click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    log_out(page)

    # Sign in again: password, then a code (the next time step: the first was used).
    page.fill("#id_username", poster_user.username)
    page.fill("#id_password", POSTER_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code", exact=True).fill("000000")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".field-error")).to_contain_text("isn't right")
    page.wait_for_timeout(1100)  # one wrong code: django-otp makes the next try wait 1 s
    page.get_by_label("Code", exact=True).fill(code_from_key(key, drift=1))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".userbox .user")).to_contain_text(poster_user.username)
    page.goto("/customers/")
    expect(page.get_by_role("link", name="Two Factor Supply")).to_be_visible()
