"""Two-factor sign-in (django-otp): the rule, the middleware that enforces it, and the
pages that enrol a device and take a code.

The rule, in one place (`needs_second_factor`):
- with TWO_FACTOR_REQUIRED on (the default when DEBUG is off), Posters, Accountants and
  superusers must sign in with a second factor — the people who move money or change the
  books; usernames in TWO_FACTOR_EXEMPT_USERS are not required to (the demo users in
  development);
- anyone who has enrolled a device (a rep may choose to) is asked for a code too.

`TwoFactorMiddleware` holds every page, the admin's included, until the session is
verified: a user with a device is sent to "Enter your code", one who must enrol and has no
device yet to "Set up two-factor sign-in". Only those two pages, sign-out and static files
stay reachable. A code is a 6-digit TOTP from an authenticator app, or one of the ten
one-time recovery codes shown at enrolment. django-otp throttles wrong codes per device
(each failure doubles the wait) and refuses a TOTP code already used.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user, match_token, user_has_device
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.middleware import Gate, send_to
from config.roles import Action, user_may
from ledger.models import AuditAction
from ledger.services import audit_log

RECOVERY_CODE_COUNT = 10
SESSION_NEW_CODES = "_two_factor_new_codes"
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
# Reachable before the second factor (besides the two pages below).
OPEN_PREFIXES = ("/logout/", "/static/", "/login/")


def required_by_role(user) -> bool:
    """Must this user sign in with a second factor (whether or not they have a device)?"""
    if not (settings.TWO_FACTOR_REQUIRED and user.is_authenticated):
        return False
    if user.get_username() in settings.TWO_FACTOR_EXEMPT_USERS:
        return False
    return (
        user.is_superuser
        or user_may(user, Action.POST)
        or user_may(user, Action.RELEASE_REFUND)
        or user_may(user, Action.ADMIN)
    )


SESSION_HAS_DEVICE = "_two_factor_has_device"


def has_device(request) -> bool:
    """Has the signed-in user a confirmed device? Looked up at sign-in and kept in the
    session (so pages cost no query for it); enrolling updates it. A device removed in the
    admin counts until that user next signs in."""
    known = request.session.get(SESSION_HAS_DEVICE)
    if known is None:
        known = user_has_device(request.user, confirmed=True)
        request.session[SESSION_HAS_DEVICE] = known
    return known


@receiver(user_logged_in, dispatch_uid="config.two_factor.device")
def _remember_device(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_HAS_DEVICE] = user_has_device(user, confirmed=True)


def needs_second_factor(request) -> bool:
    """Is this signed-in session still waiting for a code?"""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_verified():
        return False
    return required_by_role(user) or has_device(request)


class TwoFactorMiddleware(Gate):
    def stop(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and not request.path.startswith(OPEN_PREFIXES)
            and request.path not in (reverse("two_factor_verify"), reverse("two_factor_setup"))
            and needs_second_factor(request)
        ):
            page = "two_factor_verify" if has_device(request) else "two_factor_setup"
            return send_to(request, reverse(page))
        return None


def _with_next(name: str, request) -> str:
    return f"{reverse(name)}?{urlencode({'next': _next_url(request)})}"


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _audit(request, action, **detail):
    audit_log(by=request.user, action=action, target_ref=request.user.get_username(), **detail)


class PasswordAgain(forms.Form):
    """Asks for the current password when `user` is given: before a second factor changes
    (device replaced, recovery codes renewed), so a stolen session alone can't do it."""

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:
            self.fields["password"] = forms.CharField(
                label="Your password",
                max_length=256,
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                help_text="Asked again before your second factor changes.",
            )

    def clean_password(self):
        if not self.user.check_password(self.cleaned_data.get("password", "")):
            raise forms.ValidationError("That isn't your password.")
        return self.cleaned_data["password"]


class CodeForm(PasswordAgain):
    """A code typed at sign-in: from the app, or a recovery code; at enrolment, app only."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )
    field_order = ["code", "password"]

    def __init__(self, *args, enrolling=False, **kwargs):
        super().__init__(*args, **kwargs)
        if enrolling:
            self.fields["code"].help_text = "The 6-digit code your authenticator app shows now."

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if not code.isascii() or not code.isalnum():
            raise forms.ValidationError("A code has only digits and letters.")
        return code.lower() if not code.isdigit() else code


def _new_recovery_codes(user) -> list[str]:
    """Replaces the user's recovery codes with ten new ones and returns them."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def _refused_code_message(user) -> str:
    """Why a code was refused, and how long to wait when wrong codes have slowed tries."""
    from django.utils import timezone

    wait = 0
    for device in devices_for_user(user):
        allowed, info = device.verify_is_allowed()
        until = (info or {}).get("locked_until")
        if not allowed and until:
            wait = max(wait, int((until - timezone.now()).total_seconds()) + 1)
    message = "That code isn't right, or was already used."
    if wait:
        unit = "second" if wait == 1 else "seconds"
        message += f" Wait {wait} {unit} before the next try: each wrong code doubles the wait."
    else:
        message += " Enter the code your app shows now."
    return message


@require_http_methods(["GET", "POST"])
def verify(request):
    """Enter your code: the second step of signing in."""
    user = request.user
    if user.is_verified():
        return redirect(_next_url(request))
    if not user_has_device(user, confirmed=True):
        return redirect(_with_next("two_factor_setup", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            if isinstance(device, StaticDevice):
                left = StaticToken.objects.filter(device=device).count()
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "Make new ones from Your account when you run low.",
                )
            return redirect(_next_url(request))
        _audit(request, AuditAction.TWO_FACTOR_FAILED)
        form.add_error("code", _refused_code_message(user))
    return render(
        request, "account/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


def _qr_data_uri(device: TOTPDevice) -> str:
    import segno

    return segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)


def _pending_device(user) -> TOTPDevice:
    """The device being enrolled: the user's unconfirmed one, made on first visit."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def _spaced(key_b32: str) -> str:
    return " ".join(key_b32[i : i + 4] for i in range(0, len(key_b32), 4))


@require_http_methods(["GET", "POST"])
def setup(request):
    """Set up two-factor sign-in: scan the QR code (or type the key), confirm with a code;
    the recovery codes are shown next."""
    import base64

    user = request.user
    if user_has_device(user, confirmed=True) and not user.is_verified():
        return redirect(_with_next("two_factor_verify", request))
    device = _pending_device(user)
    replacing = user_has_device(user, confirmed=True)
    form = CodeForm(request.POST or None, enrolling=True, user=user if replacing else None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
            if device.verify_token(form.cleaned_data["code"]):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
                request.session[SESSION_HAS_DEVICE] = True
                request.session[SESSION_NEW_CODES] = _new_recovery_codes(user)
                otp_login(request, device)
                _audit(request, AuditAction.TWO_FACTOR_ENROLLED, device=device.name)
                messages.success(request, "Two-factor sign-in is on for your account.")
                return redirect(_with_next("two_factor_codes", request))
        form.add_error(
            "code", "That code isn't right. Check your phone's clock and enter the current code."
        )
    key = base64.b32encode(device.bin_key).decode("ascii")
    return render(
        request,
        "account/two_factor_setup.html",
        {
            "form": form,
            "qr": _qr_data_uri(device),
            "key": _spaced(key),
            "required": required_by_role(user),
            "next": _next_url(request),
            "replacing": replacing,
        },
    )


@require_http_methods(["GET", "POST"])
def recovery_codes(request):
    """GET shows codes just made (once); POST makes a new set (the old ones stop working)."""
    user = request.user
    if not user_has_device(user, confirmed=True):
        return redirect("two_factor_setup")
    form = PasswordAgain(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        request.session[SESSION_NEW_CODES] = _new_recovery_codes(user)
        _audit(request, AuditAction.RECOVERY_CODES_RENEWED)
        return redirect("two_factor_codes")
    codes = None if request.method == "POST" else request.session.pop(SESSION_NEW_CODES, None)
    return render(
        request,
        "account/recovery_codes.html",
        {"codes": codes, "form": form, "next": _next_url(request)},
    )


def account(request):
    """Your account: password and two-factor sign-in."""
    user = request.user
    app_devices = [d for d in devices_for_user(user) if isinstance(d, TOTPDevice)]
    recovery = StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE_NAME).first()
    return render(
        request,
        "account/account.html",
        {
            "app_devices": app_devices,
            "recovery_left": recovery.token_set.count() if recovery else 0,
            "required": required_by_role(user),
            "exempt": user.get_username() in settings.TWO_FACTOR_EXEMPT_USERS,
        },
    )
