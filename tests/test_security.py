"""Issue 13 from outside: login throttling, two-factor sign-in, security headers, friendly
refusals, idle sign-out, password change."""

import logging
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.middleware import LAST_SEEN
from config.roles import Action, refusal
from ledger.models import AuditAction, AuditEvent
from tests.factories import make_invoice, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"


def sign_in(client, username, password=PASSWORD, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


# --- throttling -------------------------------------------------------------------------


def test_sixth_wrong_password_locks_the_pair_even_for_the_right_password(client, poster):
    for _ in range(4):
        response = sign_in(client, "poster", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    # The 5th failure locks the pair and says so; the 6th try, right password, is refused.
    assert sign_in(client, "poster", "wrong").status_code == 429
    response = sign_in(client, "poster")
    assert response.status_code == 429
    body = response.content.decode()
    assert "sign-in is locked for 15 minutes" in body
    assert "ask an Accountant to clear the lockout" in body
    assert "_auth_user_id" not in client.session
    # Every failure and the lockout are in the audit trail.
    failed = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED, target_ref="poster")
    assert failed.count() >= 5
    assert all(e.actor_id is None and e.detail["address"] == "127.0.0.1" for e in failed)
    assert AuditEvent.objects.filter(
        action=AuditAction.SIGN_IN_LOCKED_OUT, target_ref="poster"
    ).exists()
    assert not any("pw" in str(e.detail) or "wrong" in str(e.detail) for e in failed)


def test_lockout_is_per_username_and_address(client, poster, rep):
    for _ in range(5):
        sign_in(client, "poster", "wrong")
    assert sign_in(client, "poster").status_code == 429
    # Another user from the same address, and the same user from another address, sign in.
    assert sign_in(client, "rep").status_code == 302
    client.logout()
    assert sign_in(client, "poster", REMOTE_ADDR="10.9.8.7").status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, poster):
    for _ in range(4):
        sign_in(client, "poster", "wrong")
    assert sign_in(client, "poster").status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "poster", "wrong")
    assert sign_in(client, "poster").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_limit_is_a_setting(client, poster):
    sign_in(client, "poster", "wrong")
    sign_in(client, "poster", "wrong")
    assert sign_in(client, "poster").status_code == 429


def test_an_accountant_sees_and_clears_the_lockout_in_the_admin(client, poster, accountant):
    for _ in range(5):
        sign_in(client, "poster", "wrong")
    attempt = AccessAttempt.objects.get(username="poster")
    admin = client.__class__()
    admin.force_login(accountant)
    listing = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "poster" in listing.content.decode()
    url = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert admin.post(url, {"post": "yes"}).status_code == 302
    assert not AccessAttempt.objects.filter(username="poster").exists()
    assert sign_in(client, "poster").status_code == 302


def test_a_rep_cannot_clear_lockouts(client, rep):
    client.force_login(rep)
    response = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert response.status_code == 302  # the admin's own login: reps are not staff


def test_forwarded_address_is_believed_only_behind_a_proxy(client, poster):
    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    for _ in range(5):
        sign_in(client, "poster", "wrong", **spoofed)
    # Without BEHIND_PROXY the header is ignored: the connection's address is locked.
    assert sign_in(client, "poster").status_code == 429
    assert AccessAttempt.objects.get(username="poster").ip_address == "127.0.0.1"


@override_settings(BEHIND_PROXY=True, PROXY_COUNT=1)
def test_behind_a_proxy_the_address_the_proxy_appended_counts(client, poster):
    # The client wrote "1.1.1.1"; the proxy appended the real address last.
    for _ in range(5):
        sign_in(client, "poster", "wrong", HTTP_X_FORWARDED_FOR="1.1.1.1, 198.51.100.7")
    assert AccessAttempt.objects.get(username="poster").ip_address == "198.51.100.7"
    # Another client behind the same proxy is not locked out.
    response = sign_in(client, "poster", HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert response.status_code == 302
    client.logout()
    # Faking the first entry does not escape the lockout.
    response = sign_in(client, "poster", HTTP_X_FORWARDED_FOR="9.9.9.9, 198.51.100.7")
    assert response.status_code == 429
    # Garbage falls back to the connection's address.
    response = sign_in(client, "poster", "wrong", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert response.status_code == 200


@override_settings(BEHIND_PROXY=True, PROXY_COUNT=1)
def test_a_client_reaching_the_app_directly_cannot_choose_its_address(client, poster):
    """X-Forwarded-For from a connection that is not a trusted proxy is not believed: a
    new made-up address per try does not escape the lockout."""
    for n in range(6):
        response = sign_in(
            client,
            "poster",
            "wrong",
            REMOTE_ADDR="203.0.113.50",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    assert response.status_code == 429
    assert AccessAttempt.objects.get(username="poster").ip_address == "203.0.113.50"
    response = sign_in(
        client, "poster", REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR="10.0.0.99"
    )
    assert response.status_code == 429


# --- two-factor ---------------------------------------------------------------------------

two_factor_on = override_settings(TWO_FACTOR_REQUIRED=True, TWO_FACTOR_EXEMPT_USERS=[])


def code_for(device, drift=0):
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits, drift).token():06d}"


def reset_throttles(user):
    from django_otp import devices_for_user

    for device in devices_for_user(user):
        device.throttle_reset()


@two_factor_on
def test_a_poster_reaches_no_page_without_a_second_factor(client, poster, customer):
    doc = make_invoice(customer=customer, by=poster)
    assert sign_in(client, "poster").status_code == 302
    setup = reverse("two_factor_setup")
    for url in [
        "/",
        reverse("invoicing:list"),
        reverse("invoicing:detail", args=[doc.pk]),
        reverse("invoicing:post", args=[doc.pk]),
        reverse("customers:list"),
        reverse("account"),
        reverse("password_change"),
        reverse("admin:index"),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(setup), url
    # A POST is held too: nothing is posted.
    response = client.post(reverse("invoicing:post", args=[doc.pk]), {})
    assert response.status_code == 302 and response["Location"].startswith(setup)
    doc.refresh_from_db()
    assert doc.status == "draft"
    # htmx requests are redirected the htmx way.
    response = client.get(reverse("invoicing:list"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].startswith(setup)


@two_factor_on
def test_accountants_need_it_and_reps_may_choose(client, accountant, rep):
    client.force_login(accountant)
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("two_factor_setup"))
    client.force_login(rep)
    assert client.get(reverse("invoicing:list")).status_code == 200
    assert client.get(reverse("two_factor_setup")).status_code == 200  # may enrol


@override_settings(TWO_FACTOR_REQUIRED=True, TWO_FACTOR_EXEMPT_USERS=["poster"])
def test_exempt_users_are_not_held(client, poster):
    client.force_login(poster)
    assert client.get(reverse("invoicing:list")).status_code == 200
    assert "exempt" in client.get(reverse("account")).content.decode()


@two_factor_on
def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code(client, poster):
    sign_in(client, "poster")
    page = client.get(reverse("two_factor_setup") + "?next=/customers/")
    body = page.content.decode()
    assert 'src="data:image/svg+xml' in body  # the QR code, made on the server
    device = TOTPDevice.objects.get(user=poster, confirmed=False)
    wrong = client.post(reverse("two_factor_setup"), {"code": "000000", "next": "/customers/"})
    assert "That code isn&#x27;t right" in wrong.content.decode()
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # wrong codes slow down further tries
    device.throttle_reset()
    response = client.post(
        reverse("two_factor_setup"),
        {"code": (enrolled_with := code_for(device)), "next": "/customers/"},
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor_codes"))
    codes_page = client.get(response["Location"]).content.decode()
    tokens = list(StaticToken.objects.filter(device__user=poster).values_list("token", flat=True))
    assert len(tokens) == 10 and all(t in codes_page for t in tokens)
    # Shown once only.
    assert tokens[0] not in client.get(reverse("two_factor_codes")).content.decode()
    assert client.get("/customers/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENROLLED).count() == 1

    client.post(reverse("logout"))
    sign_in(client, "poster")
    held = client.get("/customers/")
    assert held["Location"].startswith(reverse("two_factor_verify"))
    # The code just used is refused (no replay); so are a malformed and a wrong one.
    used = enrolled_with  # the very code of enrolment, even if the clock moved on since
    replay = client.post(reverse("two_factor_verify"), {"code": used, "next": "/"})
    assert replay.status_code == 200 and "already used" in replay.content.decode()
    reset_throttles(poster)
    bad = client.post(reverse("two_factor_verify"), {"code": "12ab!!", "next": "/"})
    assert "only digits and letters" in bad.content.decode()
    refused = client.post(reverse("two_factor_verify"), {"code": "000001", "next": "/"})
    assert refused.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_FAILED).count() == 2
    # Right after a wrong code, even a right one must wait (django-otp's throttling).
    throttled = client.post(reverse("two_factor_verify"), {"code": tokens[1], "next": "/"})
    assert "wait" in throttled.content.decode()
    # A recovery code signs in once.
    client.post(reverse("logout"))
    reset_throttles(poster)
    sign_in(client, "poster")
    response = client.post(reverse("two_factor_verify"), {"code": tokens[0], "next": "/customers/"})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    assert client.get("/customers/").status_code == 200
    assert not StaticToken.objects.filter(token=tokens[0]).exists()
    client.post(reverse("logout"))
    sign_in(client, "poster")
    reset_throttles(poster)
    again = client.post(reverse("two_factor_verify"), {"code": tokens[0], "next": "/"})
    assert again.status_code == 200  # used up


@two_factor_on
def test_next_step_code_signs_in_and_offsite_next_is_ignored(client, poster):
    device = TOTPDevice.objects.create(user=poster, name="app", confirmed=True)
    sign_in(client, "poster")
    response = client.post(
        reverse("two_factor_verify"),
        {"code": code_for(device, drift=1), "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_a_rep_with_a_device_is_asked_for_a_code(client, rep):
    TOTPDevice.objects.create(user=rep, name="app", confirmed=True)
    sign_in(client, "rep")
    assert client.get(reverse("invoicing:list"))["Location"].startswith(
        reverse("two_factor_verify")
    )


def test_recovery_codes_can_be_renewed_with_the_password(client, rep):
    device = TOTPDevice.objects.create(user=rep, name="app", confirmed=True)
    sign_in(client, "rep")
    client.post(reverse("two_factor_verify"), {"code": code_for(device), "next": "/"})
    # The session alone is not enough: the password is asked again.
    refused = client.post(reverse("two_factor_codes"), {"password": "not-it"})
    assert (
        refused.status_code == 200 and "That isn&#x27;t your password" in refused.content.decode()
    )
    assert not StaticToken.objects.exists()
    response = client.post(reverse("two_factor_codes"), {"password": PASSWORD})
    assert response.status_code == 302
    first = set(StaticToken.objects.values_list("token", flat=True))
    client.post(reverse("two_factor_codes"), {"password": PASSWORD})
    second = set(StaticToken.objects.values_list("token", flat=True))
    assert len(first) == len(second) == 10 and not first & second


def test_replacing_the_device_asks_for_the_password(client, rep):
    old = TOTPDevice.objects.create(user=rep, name="app", confirmed=True)
    sign_in(client, "rep")
    client.post(reverse("two_factor_verify"), {"code": code_for(old), "next": "/"})
    page = client.get(reverse("two_factor_setup"))
    assert 'name="password"' in page.content.decode()
    new = TOTPDevice.objects.get(user=rep, confirmed=False)
    refused = client.post(reverse("two_factor_setup"), {"code": code_for(new)})
    assert refused.status_code == 200
    assert TOTPDevice.objects.filter(pk=old.pk, confirmed=True).exists()
    new.refresh_from_db()
    new.throttle_reset()
    response = client.post(
        reverse("two_factor_setup"), {"code": code_for(new), "password": PASSWORD}
    )
    assert response.status_code == 302
    assert list(TOTPDevice.objects.filter(user=rep).values_list("pk", flat=True)) == [new.pk]


# --- headers --------------------------------------------------------------------------------


def test_security_headers_on_every_page(client, rep):
    for url in [reverse("login")]:
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert len(response["X-Request-ID"]) == 12


def test_no_inline_script_or_handler_in_any_template():
    """What CSP would block: inline <script> bodies and on* attributes."""
    import re
    from pathlib import Path

    from django.conf import settings

    offenders = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path}: inline <script>")
        if re.search(r"\son[a-z]+=\"", text):
            offenders.append(f"{path}: on* handler")
        if re.search(r"\sstyle=\"", text):
            offenders.append(f"{path}: style attribute")
    assert offenders == []


# --- refusals ---------------------------------------------------------------------------------


def test_a_refused_role_gets_a_page_that_says_who_can(rep_client, rep, customer):
    doc = make_invoice(customer=customer, by=rep)
    response = rep_client.post(reverse("invoicing:post", args=[doc.pk]), {})
    assert response.status_code == 403
    body = response.content.decode()
    assert refusal(Action.POST, f"post Invoice {doc.number}") in body.replace("&#x27;", "'")
    assert f"Only a Poster can post Invoice {doc.number}. Ask a Poster to do it." in body
    assert 'class="topbar"' in body and "Traceback" not in body


def test_a_user_without_a_role_is_told_who_can_give_one(client):
    nobody = make_user(None, "nobody")
    client.force_login(nobody)
    response = client.get(reverse("invoicing:list"))
    assert response.status_code == 403
    assert "Ask an Accountant or an administrator" in response.content.decode()


def test_not_found_is_inside_the_layout(rep_client):
    response = rep_client.get("/invoices/999999999/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Nothing here" in body and 'class="topbar"' in body
    assert "urlpatterns" not in body and "Using the URLconf" not in body


def test_server_error_shows_the_request_id_that_is_logged(rep, caplog):
    from django.test import Client

    from config import urls

    def boom(request):
        raise RuntimeError("kaboom")

    client = Client(raise_request_exception=False)
    client.force_login(rep)
    from django.urls import path

    urls.urlpatterns.append(path("boom/", boom))
    try:
        with caplog.at_level(logging.ERROR):
            response = client.get("/boom/")
    finally:
        urls.urlpatterns.pop()
        from django.urls import clear_url_caches

        clear_url_caches()
    assert response.status_code == 500
    body = response.content.decode()
    request_id = response["X-Request-ID"]
    assert f"<code>{request_id}</code>" in body
    assert "kaboom" not in body and "Traceback" not in body
    records = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert any(r.exc_info for r in records)


def test_csrf_failure_is_explained(rep):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    response = client.post(reverse("customers:create"), {})
    assert response.status_code == 403
    assert "This form has expired" in response.content.decode()


# --- session and password ------------------------------------------------------------------


def test_an_idle_session_is_signed_out(rep_client):
    session = rep_client.session
    session[LAST_SEEN] = int(time.time()) - 8 * 3600 - 5
    session.save()
    response = rep_client.get(reverse("invoicing:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    page = rep_client.get(response["Location"])
    assert "signed out after 8 hours without activity" in page.content.decode()
    assert rep_client.get(reverse("invoicing:list")).status_code == 302


def test_an_active_session_stays(rep_client):
    session = rep_client.session
    session[LAST_SEEN] = int(time.time()) - 8 * 3600 + 120
    session.save()
    assert rep_client.get(reverse("invoicing:list")).status_code == 200
    assert rep_client.session[LAST_SEEN] >= int(time.time()) - 5


def test_session_cookie_age_is_the_idle_time(settings):
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_SECONDS == 8 * 3600


def test_password_change(rep_client, rep):
    url = reverse("password_change")
    assert rep_client.get(url).status_code == 200
    bad = rep_client.post(url, {"old_password": "nope", "new_password1": "x", "new_password2": "y"})
    assert bad.status_code == 200 and "field-error" in bad.content.decode()
    new = "a-much-longer-passphrase-42"
    response = rep_client.post(
        url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    assert get_user_model().objects.get(pk=rep.pk).check_password(new)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_wrong_passwords_sent_at_once_get_five_guesses_not_more(poster, settings):
    """20 wrong passwords in parallel: sign-in attempts for one username are serialized,
    so exactly 5 are checked (4 answered as wrong, the 5th locks) and the rest are locked."""
    import threading

    from django.db import connection
    from django.test import Client

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = get_user_model().objects.get(pk=poster.pk)
    user.set_password(PASSWORD)
    user.save()
    codes, barrier = [], threading.Barrier(20)

    def attempt():
        try:
            barrier.wait(timeout=30)
            codes.append(sign_in(Client(), "poster", "wrong").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(codes) == [200] * 4 + [429] * 16, codes
    # Tries while locked count too (and restart the cool-off).
    assert AccessAttempt.objects.get(username="poster").failures_since_start == 20
    assert sign_in(Client(), "poster").status_code == 429
