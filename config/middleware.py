"""Request-wide middleware: a request id, security headers, idle sign-out, and the rule
that every desk page needs a role, not just a login."""

import time
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django_htmx.http import HttpResponseClientRedirect

from config.request_id import request_id as _request_id
from config.roles import Action, user_may

# The accountants' admin checks its own permissions; login/logout must stay reachable.
OPEN_PREFIXES = ("/admin/", "/login/", "/logout/", "/static/")


class RequestIdMiddleware:
    """Gives each request a short random id: `request.id`, the `X-Request-ID` response
    header, every log line written while it runs, and the server-error page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.id = uuid.uuid4().hex[:12]
        token = _request_id.set(request.id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request.id
        return response


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware doesn't send: Permissions-Policy."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


class Gate:
    """A middleware that may answer a request before the view: subclasses define
    `stop(request)`, returning a response to send instead, or None to go on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.stop(request) or self.get_response(request)

    def stop(self, request):
        raise NotImplementedError


def send_to(request, page_url=None):
    """Redirect to a sign-in step (the login page by default), keeping where the user was
    going in `next`; an htmx request is redirected the htmx way (the whole page)."""
    response = redirect_to_login(request.get_full_path(), page_url)
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(response["Location"])
    return response


LAST_SEEN = "_last_seen"
# The session is re-saved (and so its expiry pushed back) at most this often.
TOUCH_EVERY_SECONDS = 60


@receiver(user_logged_in, dispatch_uid="config.idle.stamp")
def _stamp_login(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN] = int(time.time())


class IdleTimeoutMiddleware(Gate):
    """Signs out a session left idle for SESSION_IDLE_SECONDS (default 8 hours). The time
    of last use is kept in the session and refreshed at most once a minute, so a busy
    page costs no extra write; the stored session and its cookie expire with it
    (SESSION_COOKIE_AGE), refreshed on the same writes."""

    def stop(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_SEEN)
            if isinstance(last, int) and now - last > settings.SESSION_IDLE_SECONDS:
                logout(request)
                hours = settings.SESSION_IDLE_SECONDS / 3600
                messages.info(
                    request,
                    f"You were signed out after {hours:g} hours without activity. "
                    "Sign in again to continue.",
                )
                return send_to(request)
            if not isinstance(last, int) or now - last >= TOUCH_EVERY_SECONDS:
                request.session[LAST_SEEN] = now
        return None


class RoleRequiredMiddleware(Gate):
    """A signed-in user without any of the roles (A/R rep, Poster, Accountant) gets 403 on
    the desk instead of seeing every customer's invoices."""

    def stop(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(OPEN_PREFIXES)
            and not request.path.startswith("/account/")
            and not user_may(user, Action.VIEW)
        ):
            raise PermissionDenied(
                "Your account has no Credit Desk role yet. Ask an Accountant or an "
                "administrator to give you the A/R rep, Poster or Accountant role."
            )
        return None
