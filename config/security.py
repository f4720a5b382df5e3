"""Sign-in throttling: who the client is, and what a locked-out sign-in sees.

django-axes counts failed sign-ins per username + client address (settings: AXES_*,
LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES) and calls these:

- `client_ip(request)` — the connection's address, or, only with BEHIND_PROXY on and the
  connection coming from one of TRUSTED_PROXIES, the address that proxy appended to
  X-Forwarded-For (PROXY_COUNT entries from the end: entries further left were written by
  the client and are not believed). Anything that is not an IP address falls back to
  REMOTE_ADDR.
- `lockout_response(request, response, credentials)` — the login page again, status 429,
  with a message saying for how long and who can clear it.
- `attempted_username(request, credentials)` — the username as typed, trimmed and
  case-folded, so "Poster " and "poster" share one counter.
- `LoginView` — Django's, with each sign-in attempt run in a transaction that first takes
  a lock on the username (a PostgreSQL advisory lock; SQLite's IMMEDIATE transactions
  serialize writers anyway). django-axes reads and bumps its failure count in separate
  statements, so without this, 30 wrong passwords sent at once were 8 checked guesses
  instead of 5; serialized, the 6th attempt sees the 5 before it.
"""

from __future__ import annotations

import ipaddress
import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db import connection, transaction
from django.template.response import TemplateResponse

USERNAME_FIELD = "username"
MAX_USERNAME = 150


def _ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    remote = _ip(request.META.get("REMOTE_ADDR"))
    if not getattr(settings, "BEHIND_PROXY", False):
        return remote
    if remote not in getattr(settings, "TRUSTED_PROXIES", ()):
        # Not from our proxy: whatever X-Forwarded-For says, the client wrote it.
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    count = getattr(settings, "PROXY_COUNT", 1)
    if len(forwarded) >= count:
        candidate = _ip(forwarded[-count])
        if candidate:
            return candidate
    return remote


def attempted_username(request, credentials=None) -> str:
    value = ""
    if credentials:
        value = credentials.get(USERNAME_FIELD) or ""
    elif request is not None and request.method == "POST":
        value = request.POST.get(USERNAME_FIELD, "")
    return str(value).strip().casefold()[:MAX_USERNAME]


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_message() -> str:
    minutes = lockout_minutes()
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many wrong passwords for this username from your address: sign-in is locked "
        f"for {minutes} {unit}. Try again later, or ask an Accountant to clear the lockout."
    )


def lockout_response(request, original_response=None, credentials=None):
    username = attempted_username(request, credentials)
    form = AuthenticationForm(request, initial={USERNAME_FIELD: username})
    return TemplateResponse(
        request,
        "registration/login.html",
        {
            "form": form,
            "lockout": lockout_message(),
            "next": request.POST.get("next", "") if request.method == "POST" else "",
            "username_typed": username,
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    ).render()


def _lock_username(username: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"sign-in:{username}"]
            )


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        with transaction.atomic():
            _lock_username(attempted_username(request))
            return super().post(request, *args, **kwargs)
